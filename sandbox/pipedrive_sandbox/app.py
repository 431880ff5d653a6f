"""The Flask application: authentication, faults, rate limits and logging around every API call."""

from __future__ import annotations

import base64
import json
import time
import traceback
from collections.abc import Callable
from typing import Any

from flask import Flask, Response, current_app, g, request
from werkzeug.exceptions import HTTPException

from .account import Account
from .errors import ApiError, bad_request, error_response

MAX_UPLOAD_BYTES = 100 * 1024 * 1024
LOOPBACK = ("127.0.0.1", "::1")
SEARCH_PATHS = ("/search", "/itemSearch")
OVER_LIMIT = "Request over limit"
CLOUDFLARE_PAGE = ("<!DOCTYPE html><html><head><title>Attention Required! | Cloudflare</title></head><body>"
                   "<h1>Sorry, you have been blocked</h1><p>Error 1015: You are being rate limited.</p></body></html>")


def create_app(account: Account) -> Flask:
    app = Flask("pipedrive_sandbox")
    app.config["MAX_CONTENT_LENGTH"] = MAX_UPLOAD_BYTES
    app.json.sort_keys = False
    app.extensions["account"] = account

    @app.before_request
    def guard() -> Response | None:
        g.started, g.cost, g.token, g.fault, g.limit_headers = time.monotonic(), 0, None, None, {}
        g.operation = _operation(request.endpoint)
        if request.path.startswith("/_sandbox"):
            if request.remote_addr not in LOOPBACK:
                raise ApiError(403, "sandbox endpoints answer loopback clients only")
            return None
        token = request.headers.get("x-api-token") or request.args.get("api_token")
        bearer = request.headers.get("Authorization", "")
        if not token and bearer.lower().startswith("bearer "):
            token = bearer[7:].strip()
        user = account.store.user_for_token(token) if token else None
        if user is None:
            return _unauthorized()
        g.token, g.user = token, user
        fault = account.faults.draw()
        if fault:
            g.fault = fault
            if fault == "stall":
                time.sleep(account.settings.stall_seconds)
            else:
                return _fault_response(fault)
        if g.operation is None:
            return None  # unknown path or method: answered by the error handlers, free of charge
        version, method, path = g.operation
        cost = account.catalog.cost(version, method, path)
        decision = account.limiter.check(token, cost, search=any(p in path for p in SEARCH_PATHS))
        g.limit_headers = decision.headers
        if not decision.allowed:
            threshold = account.settings.cloudflare_after
            if threshold and decision.refused_in_a_row > threshold:
                g.limit_headers = {}
                return Response(CLOUDFLARE_PAGE, status=403, mimetype="text/html")
            raise ApiError(429, OVER_LIMIT)
        g.cost = cost
        return None

    @app.after_request
    def finish(response: Response) -> Response:
        for name, value in getattr(g, "limit_headers", {}).items():
            response.headers[name] = value
        if not request.path.startswith("/_sandbox"):
            operation = " ".join(g.operation) if getattr(g, "operation", None) else None
            account.record(request.method, request.path, response.status_code, getattr(g, "cost", 0),
                           getattr(g, "token", None), operation, getattr(g, "fault", None))
        return response

    @app.errorhandler(ApiError)
    def api_error(error: ApiError) -> Response:
        if error.status == 429:
            g.cost = 0
        return error_response(error)

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> Response:
        messages = {404: "Unknown method .", 405: "Method not allowed", 413: "File too large"}
        return error_response(ApiError(error.code or 500, messages.get(error.code, error.name)))

    @app.errorhandler(Exception)
    def crash(error: Exception) -> Response:
        # Type, path and frames only: messages and bodies may hold personal data or tokens.
        frames = "".join(traceback.format_tb(error.__traceback__))
        app.logger.error("unexpected %s on %s %s\n%s", type(error).__name__, request.method, request.path, frames)
        return error_response(ApiError(500, "Internal server error"))

    from . import routes_entities, routes_fields, routes_sandbox, routes_search, routes_v1

    for module in (routes_entities, routes_fields, routes_search, routes_v1, routes_sandbox):
        module.register(app, account)
    return app


def _operation(endpoint: str | None) -> tuple[str, str, str] | None:
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


def _unauthorized() -> Response:
    response = error_response(ApiError(401, "unauthorized access"))
    return response


def _fault_response(fault: str) -> Response:
    if fault == "5xx":
        return error_response(ApiError(503, "Service temporarily unavailable"))
    if fault == "429":
        return error_response(ApiError(429, OVER_LIMIT))

    def broken():  # promises more bytes than it sends: the server closes the connection mid-response
        yield b""

    return Response(broken(), status=200, headers={"Content-Length": "1024", "Content-Type": "application/json"})


# --- helpers shared by the route modules --------------------------------------------------------

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
