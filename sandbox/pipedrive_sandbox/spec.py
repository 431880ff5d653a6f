"""The official OpenAPI specs: per-operation token costs and request-body schemas.

The specs live beside the checkout (`../shared/pipedrive/`), never inside it. Without them the
sandbox still runs, on the built-in cost table below, and checks bodies by hand only.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any

import yaml

# Used only when the spec files cannot be found; a conformance test keeps it equal to the specs.
FALLBACK_COSTS: dict[tuple[str, str, str], int] = {
    **{("v2", m, f"/{e}"): c for e in ("persons", "organizations", "deals", "activities")
       for m, c in (("GET", 10), ("POST", 5))},
    **{("v2", m, f"/{e}/{{id}}"): c for e in ("persons", "organizations", "deals", "activities")
       for m, c in (("GET", 1), ("PATCH", 5), ("DELETE", 3))},
    **{("v2", m, f"/{e}"): 5 for e in ("pipelines", "stages") for m in ("GET", "POST")},
    **{("v2", m, f"/{e}/{{id}}"): c for e in ("pipelines", "stages")
       for m, c in (("GET", 1), ("PATCH", 5), ("DELETE", 3))},
    **{("v2", m, f"/{e}Fields"): c for e in ("person", "organization", "deal") for m, c in (("GET", 10), ("POST", 5))},
    **{("v2", m, f"/{e}Fields/{{field_code}}"): c for e in ("person", "organization", "deal")
       for m, c in (("GET", 1), ("PATCH", 5), ("DELETE", 3))},
    **{("v2", m, f"/{e}Fields/{{field_code}}/options"): c for e in ("person", "organization", "deal")
       for m, c in (("POST", 5), ("PATCH", 5), ("DELETE", 3))},
    ("v2", "GET", "/activityFields"): 10,
    ("v2", "GET", "/activityFields/{field_code}"): 1,
    ("v2", "GET", "/persons/search"): 20,
    ("v2", "GET", "/organizations/search"): 20,
    ("v2", "GET", "/deals/search"): 20,
    ("v2", "GET", "/itemSearch/field"): 20,
    ("v1", "GET", "/notes"): 20, ("v1", "POST", "/notes"): 10, ("v1", "GET", "/notes/{id}"): 2,
    ("v1", "PUT", "/notes/{id}"): 10, ("v1", "DELETE", "/notes/{id}"): 6,
    ("v1", "GET", "/files"): 20, ("v1", "POST", "/files"): 10, ("v1", "GET", "/files/{id}"): 2,
    ("v1", "PUT", "/files/{id}"): 10, ("v1", "DELETE", "/files/{id}"): 6, ("v1", "GET", "/files/{id}/download"): 20,
    ("v1", "GET", "/users"): 20, ("v1", "GET", "/users/find"): 40, ("v1", "GET", "/users/me"): 2,
    ("v1", "GET", "/users/{id}"): 2, ("v1", "GET", "/activityTypes"): 20,
    **{("v1", "GET", f"/{e}Fields"): 20 for e in ("person", "organization", "deal")},
    **{("v1", "DELETE", f"/{e}Fields"): 10 for e in ("person", "organization", "deal")},
}
DEFAULT_COST = 10
DEFAULT_PAGE_MAXIMUM = 500  # the README's v1 and v2 list maximum where an operation documents none
FALLBACK_PAGE_MAXIMA = {("v1", "GET", path): 100 for path in (
    "/files", "/deals/{id}/files", "/persons/{id}/files", "/organizations/{id}/files")}
# v2 documents list maxima in prose only: "Please note that a maximum value of 500 is allowed."
MAXIMUM_IN_PROSE = re.compile(r"maximum value of (\d+)")


def find_spec_dir(explicit: str | None = None) -> Path | None:
    """The folder holding v1.yaml and v2.yaml: explicit, $PIPEDRIVE_SPEC_DIR, or ../shared beside the repo."""
    candidates = [explicit, os.environ.get("PIPEDRIVE_SPEC_DIR")]
    here = Path(__file__).resolve()
    candidates += [str(parent / "shared" / "pipedrive") for parent in here.parents[2:4]]
    candidates.append(str(Path.cwd().parent / "shared" / "pipedrive"))
    for candidate in candidates:
        if candidate and (Path(candidate) / "v2.yaml").is_file() and (Path(candidate) / "v1.yaml").is_file():
            return Path(candidate)
    return None


class SpecCatalog:
    """What the sandbox reads from the specs: token costs, body schemas and response keys."""

    def __init__(self, specs: dict[str, dict] | None):
        self.specs = specs or {}
        self.costs: dict[tuple[str, str, str], int] = dict(FALLBACK_COSTS)
        for version, spec in self.specs.items():
            for path, item in spec.get("paths", {}).items():
                for method, operation in item.items():
                    if isinstance(operation, dict) and "x-token-cost" in operation:
                        self.costs[(version, method.upper(), path)] = int(operation["x-token-cost"])
        self._cache: dict[Any, Any] = {}

    @property
    def loaded(self) -> bool:
        return bool(self.specs)

    def cost(self, version: str, method: str, path: str) -> int:
        return self.costs.get((version, method.upper(), path), DEFAULT_COST)

    def resolve(self, version: str, node: Any, depth: int = 0) -> Any:
        """Inline every $ref (the operations we serve have no recursive schemas)."""
        if depth > 60:
            return {}
        if isinstance(node, dict):
            if "$ref" in node:
                target: Any = self.specs[version]
                for part in node["$ref"].split("/")[1:]:
                    target = target[part]
                return self.resolve(version, target, depth + 1)
            return {k: self.resolve(version, v, depth + 1) for k, v in node.items() if k != "example"}
        if isinstance(node, list):
            return [self.resolve(version, v, depth + 1) for v in node]
        return node

    def operation(self, version: str, method: str, path: str) -> dict | None:
        key = ("op", version, method, path)
        if key not in self._cache:
            operation = self.specs.get(version, {}).get("paths", {}).get(path, {}).get(method.lower())
            self._cache[key] = self.resolve(version, operation) if operation else None
        return self._cache[key]

    def body_schema(self, version: str, method: str, path: str, content_type: str = "application/json"):
        operation = self.operation(version, method, path)
        if not operation or "requestBody" not in operation:
            return None
        return operation["requestBody"].get("content", {}).get(content_type, {}).get("schema")

    def prune(self, version: str, method: str, path: str, body: Any) -> Any:
        """The body without the keys its schema does not define, at every depth (as Pipedrive ignores them)."""
        schema = self.body_schema(version, method, path)
        return known_part(schema, body) if schema else body

    def page_maximum(self, version: str, method: str, path: str) -> int:
        """The largest `limit` the operation documents: the parameter's `maximum`, else its description."""
        key = ("limit", version, method, path)
        if key not in self._cache:
            operation = self.operation(version, method, path)
            if operation is None:
                self._cache[key] = FALLBACK_PAGE_MAXIMA.get((version, method, path), DEFAULT_PAGE_MAXIMUM)
                return self._cache[key]
            parameters = operation.get("parameters", [])
            limit = next((p for p in parameters if p.get("name") == "limit" and p.get("in") == "query"), {})
            maximum = (limit.get("schema") or {}).get("maximum")
            if maximum is None:
                found = MAXIMUM_IN_PROSE.search(limit.get("description", ""))
                maximum = int(found.group(1)) if found else DEFAULT_PAGE_MAXIMUM
            self._cache[key] = int(maximum)
        return self._cache[key]

    def response_properties(self, version: str, method: str, path: str) -> dict[str, dict]:
        """Top-level properties of `data` (or of its items) in the 200 response."""
        key = ("resp", version, method, path)
        if key not in self._cache:
            operation = self.operation(version, method, path) or {}
            response = operation.get("responses", {}).get("200", {}) or operation.get("responses", {}).get("201", {})
            schema = response.get("content", {}).get("application/json", {}).get("schema", {})
            data = merged_properties(schema).get("data", {})
            if data.get("type") == "array":
                data = data.get("items", {})
            self._cache[key] = merged_properties(data)
        return self._cache[key]


def load_spec(path: Path) -> dict:
    """Parse a spec, caching it as JSON in the temp folder: YAML takes a second, JSON a few milliseconds."""
    stat = path.stat()
    tag = hashlib.sha256(f"{path.resolve()}:{stat.st_size}:{stat.st_mtime_ns}".encode()).hexdigest()[:16]
    cache = Path(tempfile.gettempdir()) / f"pipedrive-sandbox-spec-{path.stem}-{tag}.json"
    try:
        return json.loads(cache.read_text())
    except (OSError, ValueError):
        pass
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    spec = yaml.load(path.read_text(), Loader=loader)  # noqa: S506 - a safe loader
    partial = cache.with_suffix(f".{os.getpid()}.tmp")
    try:
        partial.write_text(json.dumps(spec, default=str))
        os.replace(partial, cache)
    except OSError:
        pass  # a read-only temp folder only costs speed
    return spec


def merged_properties(schema: dict) -> dict[str, dict]:
    properties: dict[str, dict] = {}
    for part in schema.get("allOf", []):
        properties.update(merged_properties(part))
    properties.update(schema.get("properties", {}))
    return properties


def known_part(schema: dict, value: Any) -> Any:
    """`value` with every object key its (resolved) schema does not define left out, at every depth.

    An object schema without `properties` is a free map (`custom_fields`): its keys are all kept.
    """
    if isinstance(value, dict):
        properties = merged_properties(schema)
        if not properties:
            return value
        return {k: known_part(properties[k], v) for k, v in value.items() if k in properties}
    if isinstance(value, list) and isinstance(schema.get("items"), dict):
        return [known_part(schema["items"], item) for item in value]
    return value


_LOCK = threading.Lock()
_CATALOGS: dict[str, SpecCatalog] = {}


def load_catalog(spec_dir: str | None = None) -> SpecCatalog:
    """Load both specs once per process (they are large: about a second with the C loader)."""
    found = find_spec_dir(spec_dir)
    key = str(found)
    with _LOCK:
        if key not in _CATALOGS:
            if found is None:
                print("pipedrive-sandbox: OpenAPI specs not found; using built-in token costs", file=sys.stderr)
                _CATALOGS[key] = SpecCatalog(None)
            else:
                _CATALOGS[key] = SpecCatalog({v: load_spec(found / f"{v}.yaml") for v in ("v1", "v2")})
        return _CATALOGS[key]
