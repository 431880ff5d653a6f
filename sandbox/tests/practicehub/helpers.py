"""Small helpers shared by the PracticeHub sandbox tests."""

from __future__ import annotations

import requests

APP_DETAILS = "pytest=tests@example.com"


def api_get(sandbox, path: str, key: str | None = None, params=None, **named) -> requests.Response:
    """GET <base_url>/<path> with valid headers (the first key unless ``key`` is given)."""
    params = [*(params or []), *named.items()]
    headers = {"x-practicehub-key": key or sandbox.api_keys[0], "x-app-details": APP_DETAILS}
    return requests.get(f"{sandbox.base_url}/{path}", headers=headers, params=params, timeout=10)


def all_rows(sandbox, resource: str, params: list[tuple[str, str]] | None = None, **named) -> list[dict]:
    """Every row of a list, following the next links to the end (``params`` allows repeated keys)."""
    params = [*(params or []), *named.items()]
    rows, url = [], f"{sandbox.base_url}/{resource}"
    headers = {"x-practicehub-key": sandbox.api_keys[0], "x-app-details": APP_DETAILS}
    first = True
    while url:
        response = requests.get(url, headers=headers, params=params if first else None, timeout=10)
        response.raise_for_status()
        body = response.json()
        rows.extend(body["data"])
        url, first = body["links"].get("next"), False
    return rows
