"""Request bodies checked against the operation's schema in the official spec (strict types)."""

from __future__ import annotations

import threading
from typing import Any

from openapi_schema_validator import OAS30Validator

from .errors import bad_request
from .spec import SpecCatalog

_validators: dict[tuple[int, str, str, str], OAS30Validator | None] = {}
_lock = threading.Lock()


def validate_body(catalog: SpecCatalog, version: str, method: str, path: str, body: Any) -> None:
    """400 for a body the spec forbids (wrong type, missing required key); no-op without specs."""
    key = (id(catalog), version, method, path)
    with _lock:
        if key not in _validators:
            schema = catalog.body_schema(version, method, path)
            _validators[key] = OAS30Validator(schema) if schema else None
        validator = _validators[key]
    if validator is None:
        return
    error = next(iter(sorted(validator.iter_errors(body), key=lambda e: list(e.absolute_path))), None)
    if error is not None:
        where = ".".join(str(p) for p in error.absolute_path)
        raise bad_request(f"Validation failed: {where + ': ' if where else ''}{error.message}")
