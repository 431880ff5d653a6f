"""The Flask application: authentication, faults, rate limits and logging around every API call."""

from __future__ import annotations

import time
import traceback

from flask import Flask, Response, g, request
from werkzeug.exceptions import HTTPException

from . import routes_entities, routes_fields, routes_sandbox, routes_search, routes_v1
from .account import Account
from .errors import ApiError, error_response
from .routing import operation_of

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
        g.operation = operation_of(request.endpoint)
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

    for module in (routes_entities, routes_fields, routes_search, routes_v1, routes_sandbox):
        module.register(app, account)
    return app


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
