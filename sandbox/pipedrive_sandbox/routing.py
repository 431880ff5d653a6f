"""What the route modules share: how an API view is registered and named, and how views read a request.

`app` and every `routes_*` module import this; it imports neither, so the routes never reach back into `app`."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

from flask import Flask, current_app, g, request

from .errors import bad_request


def operation_of(endpoint: str | None) -> tuple[str, str, str] | None:
    """Endpoints of API views are named "<version> <METHOD> <spec path>"; see api_route."""
    if not endpoint or endpoint.count(" ") != 2:
        return None
    version, method, path = endpoint.split(" ")
    return version, method, path


def api_route(app: Flask, version: str, method: str, spec_path: str) -> Callable:
    """Register a view under the spec's path, so its token cost is looked up by operation."""
    rule = spec_path.replace("{id}", "<int:id>").replace("{field_code}", "<field_code>")

    def decorator(view: Callable) -> Callable:
        endpoint = f"{version} {method} {spec_path}"
        app.add_url_rule(f"/api/{version}{rule}", endpoint, view, methods=[method])
        if version == "v1":
            app.add_url_rule(f"/v1{rule}", endpoint, view, methods=[method])
        return view

    return decorator


def json_body() -> Any:
    if not request.data:
        return {}
    try:
        return json.loads(request.data)
    except ValueError as exc:
        raise bad_request("Request body is not valid JSON") from exc


def v1_body() -> dict[str, Any]:
    """v1 accepts JSON or form fields."""
    if request.mimetype == "application/json" or (request.data and not request.form):
        body = json_body()
        if not isinstance(body, dict):
            raise bad_request("Request body must be a JSON object")
        return body
    return request.form.to_dict()


def int_arg(name: str, default: int | None = None, minimum: int | None = None,
            maximum: int | None = None) -> int | None:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise bad_request(f"{name} must be an integer") from exc
    if minimum is not None and value < minimum or maximum is not None and value > maximum:
        raise bad_request(f"{name} must be between {minimum} and {maximum}")
    return value


def page_limit(default: int = 100) -> int:
    """`limit` of a list call: at most the operation's documented maximum (v1 /files: 100, v2 lists: 500);
    above it the call is refused with a 400, as the spec forbids it (nothing is silently capped)."""
    version, method, path = g.operation
    maximum = current_app.extensions["account"].catalog.page_maximum(version, method, path)
    return int_arg("limit", min(default, maximum), 1, maximum)


def encode_cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"offset": offset}).encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> int:
    if not cursor:
        return 0
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        offset = json.loads(base64.urlsafe_b64decode(padded))["offset"]
        if not isinstance(offset, int) or offset < 0:
            raise ValueError(offset)
        return offset
    except (ValueError, KeyError, TypeError) as exc:
        raise bad_request("Invalid cursor") from exc


def current_user() -> dict[str, Any]:
    return g.user
