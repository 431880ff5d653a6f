"""Request bodies checked against the operation's schema in the official spec (strict types), then
reduced to the keys the schema defines: what Pipedrive refuses is refused, what it ignores is dropped."""

from __future__ import annotations

import threading
from typing import Any

from openapi_schema_validator import OAS30Validator

from .errors import bad_request
from .spec import SpecCatalog

_validators: dict[tuple[int, str, str, str], OAS30Validator | None] = {}
_lock = threading.Lock()


def validate_body(catalog: SpecCatalog, version: str, method: str, path: str, body: Any) -> Any:
    """400 for a body the spec forbids (wrong type, `null` where the schema is not nullable, a missing
    required key); otherwise the body without the keys the schema does not define, at any depth.
    Without specs the body is returned as it is."""
    key = (id(catalog), version, method, path)
    with _lock:
        if key not in _validators:
            schema = catalog.body_schema(version, method, path)
            _validators[key] = OAS30Validator(schema) if schema else None
        validator = _validators[key]
    if validator is None:
        return body
    error = next(iter(sorted(validator.iter_errors(body), key=lambda e: list(e.absolute_path))), None)
    if error is not None:
        where = ".".join(str(p) for p in error.absolute_path)
        raise bad_request(f"Validation failed: {where + ': ' if where else ''}{error.message}")
    return catalog.prune(version, method, path, body)
