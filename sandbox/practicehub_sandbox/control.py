"""A small client for a running sandbox's /_sandbox endpoints (tests, benchmarks, rehearsals)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

from .resources import RESOURCES


class ControlError(RuntimeError):
    """The sandbox refused a control request."""


class SandboxControl:
    def __init__(self, root_url: str, timeout: float = 30.0) -> None:
        self.root_url = root_url.rstrip("/")
        self.timeout = timeout

    def _call(self, method: str, path: str, body: dict | None = None):
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            f"{self.root_url}{path}", data=data, method=method, headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                payload = response.read()
        except urllib.error.HTTPError as exc:
            raise ControlError(f"{method} {path}: HTTP {exc.code} {exc.read().decode(errors='replace')}") from exc
        return json.loads(payload) if payload else None

    def stats(self) -> dict:
        return self._call("GET", "/_sandbox/stats")

    def reset_stats(self) -> None:
        self._call("POST", "/_sandbox/stats/reset", {})

    def configure(self, **settings) -> dict:
        return self._call("PATCH", "/_sandbox/config", settings)

    def settings(self) -> dict:
        return self._call("GET", "/_sandbox/config")

    def create_record(self, resource: str, fields: dict) -> dict:
        return self._call("POST", f"/_sandbox/records/{resource}", fields)

    def patch_record(self, resource: str, record_id: int, fields: dict) -> dict:
        return self._call("PATCH", f"/_sandbox/records/{resource}/{record_id}", fields)

    def delete_record(self, resource: str, record_id: int) -> None:
        self._call("DELETE", f"/_sandbox/records/{resource}/{record_id}")

    def records(self, resource: str) -> list[dict]:
        return self._call("GET", f"/_sandbox/records/{resource}")

    def dataset(self) -> dict[str, list[dict]]:
        return {resource: self.records(resource) for resource in RESOURCES}
