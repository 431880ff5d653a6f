"""The Flask app: PracticeHub's /api, signed attachment links, and the sandbox's own /_sandbox controls."""

from __future__ import annotations

import hmac
import ipaddress
import re
import secrets
import threading
import time
from urllib.parse import quote

from flask import Flask, Response, jsonify, request
from werkzeug.exceptions import HTTPException

from .blobs import BLOB_RESOURCES, DEFAULT_MIME_TYPE, BlobSigner, blob_bytes, blob_key, s3_error
from .faults import Fault, FaultPlan
from .filters import RESERVED_PARAMS, parse_filters
from .paging import page_links, page_params, page_rows
from .ratelimit import RateLimiter, retry_after_seconds
from .resources import RESOURCE_FIELDS
from .settings import SandboxSettings, SettingsError
from .stats import Stats
from .store import RecordStore, UnknownResource

# The WSGI server puts a callable here that closes the connection without sending a response.
DROP_CONNECTION_KEY = "practicehub_sandbox.drop_connection"

_APP_DETAILS_RE = re.compile(r"^\s*([^=\s][^=]*)=\s*[^@\s]+@[^@\s]+\.[^@\s]+\s*$")


def _message(status: int, message: str, headers: dict | None = None) -> Response:
    response = jsonify({"message": message})
    response.status_code = status
    response.headers.update(headers or {})
    return response


class Sandbox:
    """State shared by the requests of one sandbox: records, settings, limiter, faults, counters."""

    def __init__(self, dataset: dict[str, list[dict]], settings: SandboxSettings) -> None:
        self.settings = settings
        self.store = RecordStore(dataset, settings.timezone)
        self.stats = Stats()
        self.limiter = RateLimiter(settings.rate, settings.burst, settings.rate_scope)
        self.faults = FaultPlan(settings.seed)
        self.signer = BlobSigner(secrets.token_bytes(32), settings.url_ttl)
        self._lock = threading.Lock()

    def configure(self, changes: dict) -> SandboxSettings:
        with self._lock:
            previous, settings = self.settings, self.settings.updated(changes)
            self.settings = settings
            limit = (settings.rate, settings.burst, settings.rate_scope)
            if limit != (previous.rate, previous.burst, previous.rate_scope):
                self.limiter.configure(*limit)  # fresh, full buckets
            self.signer.ttl_seconds = int(settings.url_ttl)
            return settings

    def known_key(self, api_key: str | None) -> bool:
        if not api_key:
            return False
        return any(hmac.compare_digest(api_key.encode(), k.encode()) for k in self.settings.api_keys)

    def valid_app_details(self, details: str | None) -> bool:
        match = _APP_DETAILS_RE.match(details or "")
        if not match:
            return False
        return self.settings.app_name is None or match.group(1).strip() == self.settings.app_name


def make_app(dataset: dict[str, list[dict]], settings: SandboxSettings | None = None) -> Flask:
    """A WSGI app serving ``dataset`` ({resource: [records as the API returns them]}) like PracticeHub."""
    sandbox = Sandbox(dataset, settings or SandboxSettings())
    app = Flask("practicehub_sandbox")
    app.json.sort_keys = False
    app.json.ensure_ascii = False
    app.extensions["practicehub_sandbox"] = sandbox

    def gate(api_key: str | None) -> Response | None:
        """Auth, rate limit and injected faults, in that order; a response means stop here."""
        if not sandbox.known_key(api_key):
            return _message(401, "Missing or invalid x-practicehub-key header")
        if not sandbox.valid_app_details(request.headers.get("x-app-details")):
            return _message(401, "Missing or invalid x-app-details header (expected <app name>=<contact email>)")
        settings = sandbox.settings
        wait = sandbox.limiter.acquire(api_key)
        if wait > 0:
            headers = {"Retry-After": str(retry_after_seconds(wait))} if settings.retry_after else {}
            return _message(429, "Too many requests", headers)
        fault, status = sandbox.faults.draw(settings.fault_5xx, settings.fault_drop, settings.fault_slow)
        if fault is Fault.SERVER_ERROR:
            return _message(status, "Internal server error")
        if fault is Fault.DROP:
            drop = request.environ.get(DROP_CONNECTION_KEY)
            if drop is None:  # a server that cannot drop connections (e.g. Flask's test client)
                return _message(502, "Connection dropped")
            drop()
            response = Response(b"", status=599)
            response.headers["X-Sandbox-Dropped"] = "1"
            return response
        if fault is Fault.SLOW:
            time.sleep(settings.slow_seconds)
        return None

    def counted(resource: str, handler) -> Response:
        api_key = request.headers.get("x-practicehub-key")
        response = gate(api_key) or handler()
        status = "dropped" if response.headers.get("X-Sandbox-Dropped") else response.status_code
        sandbox.stats.record_request(
            api_key=api_key if sandbox.known_key(api_key) else None, resource=resource, status=status
        )
        return response

    def served(resource: str, record: dict) -> dict:
        if resource in BLOB_RESOURCES:
            key = blob_key(resource, record["id"])
            record = {**record, "url": sandbox.signer.url(request.host_url.rstrip("/"), key)}
        return record

    @app.get("/api/<resource>")
    def list_records(resource: str) -> Response:
        def handler() -> Response:
            if resource not in RESOURCE_FIELDS:
                return _message(404, f"Unknown resource {resource}")
            params = list(request.args.items(multi=True))
            filters = parse_filters(params, sandbox.store.kinds(resource))
            rows = sandbox.store.matching(resource, filters)
            page, page_size = page_params(request.args.get("page"), request.args.get("page_size"))
            chunk, repeated = page_rows(
                rows, page, page_size, unstable=sandbox.settings.unstable_paging,
                seed=sandbox.settings.seed, resource=resource,
            )
            sandbox.stats.record_page(
                api_key=request.headers["x-practicehub-key"], resource=resource, page=page,
                page_size=page_size, rows=len(chunk), repeated=repeated,
                filters=[f"{f.attribute}:{f.operator}" for f in filters],
                ignored_filters=sum(name not in RESERVED_PARAMS for name, _ in params) - len(filters),
            )
            return jsonify(
                {
                    "total_entries": len(rows),
                    "data": [served(resource, r) for r in chunk],
                    "links": page_links(request.base_url, params, page, page_size, len(rows)),
                }
            )

        return counted(resource, handler)

    @app.get("/api/<resource>/<int:record_id>")
    def get_record(resource: str, record_id: int) -> Response:
        def handler() -> Response:
            if resource not in RESOURCE_FIELDS:
                return _message(404, f"Unknown resource {resource}")
            record = sandbox.store.get(resource, record_id)
            if record is None:
                return _message(404, "Record not found")
            return jsonify(served(resource, record))

        return counted(resource, handler)

    @app.get("/_blobs/<int:file_id>")
    def get_blob(file_id: int) -> Response:
        return blob_response("files", file_id)

    @app.get("/_blobs/patient_library/<int:asset_id>")
    def get_library_blob(asset_id: int) -> Response:
        return blob_response("patient_library", asset_id)

    def blob_response(resource: str, file_id: int) -> Response:
        key = blob_key(resource, file_id)
        error = sandbox.signer.check(key, request.args.get("expires"), request.args.get("signature"))
        record = sandbox.store.get(resource, file_id)
        if error is None and record is None:
            error = "NoSuchKey"
        if error:
            status = 404 if error == "NoSuchKey" else 403
            sandbox.stats.record_blob(status)
            messages = {
                "AccessDenied": "Request has expired or is missing its signature",
                "SignatureDoesNotMatch": "The request signature we calculated does not match the signature you provided",
                "NoSuchKey": "The specified key does not exist.",
            }
            return Response(s3_error(error, messages[error]), status=status, mimetype="application/xml")
        mime_type = record.get("mime_type") or DEFAULT_MIME_TYPE
        size = record.get("size")
        size = int(size) if isinstance(size, int) and size >= 0 else 1024 + file_id % 4096
        sandbox.stats.record_blob(200)
        body = blob_bytes(sandbox.settings.seed, key, size, mime_type)
        response = Response(body, status=200, mimetype=mime_type)
        if record.get("file_name"):
            # RFC 6266: an ASCII fallback plus the exact UTF-8 name, as S3 sends non-Latin-1 names
            name = str(record["file_name"])
            fallback = name.encode("ascii", "replace").decode().replace('"', "_")
            response.headers["Content-Disposition"] = (
                f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(name, safe='')}"
            )
        return response

    @app.errorhandler(HTTPException)
    def json_errors(error: HTTPException) -> Response:
        """Unknown paths and methods answer like the API does: JSON with a message."""
        return _message(error.code or 500, error.name)

    @app.before_request
    def loopback_only_controls() -> Response | None:
        if request.path.startswith("/_sandbox/"):
            address = request.remote_addr or ""
            try:
                if not ipaddress.ip_address(address).is_loopback:
                    return _message(403, "sandbox controls answer on loopback only")
            except ValueError:
                return _message(403, "sandbox controls answer on loopback only")
        return None

    def control_body() -> dict | Response:
        body = request.get_json(silent=True)
        if not isinstance(body, dict):
            return _message(400, "expected a JSON object")
        return body

    @app.get("/_sandbox/records/<resource>")
    def control_list(resource: str) -> Response:
        try:
            return jsonify(sandbox.store.dataset()[resource])
        except KeyError:
            return _message(404, f"Unknown resource {resource}")

    @app.post("/_sandbox/records/<resource>")
    def control_create(resource: str) -> Response:
        body = control_body()
        if isinstance(body, Response):
            return body
        try:
            record = sandbox.store.create(resource, body)
        except UnknownResource:
            return _message(404, f"Unknown resource {resource}")
        return jsonify(record), 201

    @app.patch("/_sandbox/records/<resource>/<int:record_id>")
    def control_patch(resource: str, record_id: int) -> Response:
        body = control_body()
        if isinstance(body, Response):
            return body
        try:
            record = sandbox.store.patch(resource, record_id, body)
        except UnknownResource:
            return _message(404, f"Unknown resource {resource}")
        return jsonify(record) if record is not None else _message(404, "Record not found")

    @app.delete("/_sandbox/records/<resource>/<int:record_id>")
    def control_delete(resource: str, record_id: int) -> Response:
        try:
            deleted = sandbox.store.delete(resource, record_id)
        except UnknownResource:
            return _message(404, f"Unknown resource {resource}")
        return Response(status=204) if deleted else _message(404, "Record not found")

    @app.get("/_sandbox/stats")
    def control_stats() -> Response:
        return jsonify(sandbox.stats.snapshot())

    @app.post("/_sandbox/stats/reset")
    def control_stats_reset() -> Response:
        sandbox.stats.reset()
        return jsonify({"reset": True})

    @app.get("/_sandbox/config")
    def control_config() -> Response:
        return jsonify(sandbox.settings.public())

    @app.patch("/_sandbox/config")
    def control_configure() -> Response:
        body = control_body()
        if isinstance(body, Response):
            return body
        try:
            settings = sandbox.configure(body)
        except (SettingsError, TypeError) as exc:
            return _message(400, str(exc))
        return jsonify(settings.public())

    return app


def sandbox_of(app: Flask) -> Sandbox:
    """The state behind an app made by make_app (for tests in the same process)."""
    return app.extensions["practicehub_sandbox"]

