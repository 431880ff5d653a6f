"""API token costs (`x-token-cost`), read from Pipedrive's OpenAPI specs when available."""

from __future__ import annotations

import re
from pathlib import Path

# Taken from v2.yaml / v1.yaml (August 2026); used when no spec folder is configured.
BUILTIN_COSTS: dict[tuple[str, str, str], int] = {
    ("v2", "GET", "/persons"): 10,
    ("v2", "POST", "/persons"): 5,
    ("v2", "PATCH", "/persons/{id}"): 5,
    ("v2", "DELETE", "/persons/{id}"): 3,
    ("v2", "GET", "/organizations"): 10,
    ("v2", "POST", "/organizations"): 5,
    ("v2", "PATCH", "/organizations/{id}"): 5,
    ("v2", "DELETE", "/organizations/{id}"): 3,
    ("v2", "GET", "/deals"): 10,
    ("v2", "POST", "/deals"): 5,
    ("v2", "PATCH", "/deals/{id}"): 5,
    ("v2", "DELETE", "/deals/{id}"): 3,
    ("v2", "GET", "/activities"): 10,
    ("v2", "POST", "/activities"): 5,
    ("v2", "PATCH", "/activities/{id}"): 5,
    ("v2", "DELETE", "/activities/{id}"): 3,
    ("v2", "GET", "/personFields"): 10,
    ("v2", "POST", "/personFields"): 5,
    ("v2", "DELETE", "/personFields/{field_code}"): 3,
    ("v2", "POST", "/personFields/{field_code}/options"): 5,
    ("v2", "GET", "/organizationFields"): 10,
    ("v2", "POST", "/organizationFields"): 5,
    ("v2", "DELETE", "/organizationFields/{field_code}"): 3,
    ("v2", "POST", "/organizationFields/{field_code}/options"): 5,
    ("v2", "GET", "/dealFields"): 10,
    ("v2", "POST", "/dealFields"): 5,
    ("v2", "DELETE", "/dealFields/{field_code}"): 3,
    ("v2", "POST", "/dealFields/{field_code}/options"): 5,
    ("v2", "GET", "/activityFields"): 10,
    ("v2", "GET", "/pipelines"): 5,
    ("v2", "POST", "/pipelines"): 5,
    ("v2", "DELETE", "/pipelines/{id}"): 3,
    ("v2", "GET", "/stages"): 5,
    ("v2", "POST", "/stages"): 5,
    ("v2", "DELETE", "/stages/{id}"): 3,
    ("v2", "GET", "/persons/{id}"): 1,  # single reads: the delta reads a few records before updating them
    ("v2", "GET", "/organizations/{id}"): 1,
    ("v2", "GET", "/deals/{id}"): 1,
    ("v2", "GET", "/activities/{id}"): 1,
    ("v2", "GET", "/deals/archived"): 20,
    ("v2", "GET", "/itemSearch/field"): 20,
    ("v2", "GET", "/persons/search"): 20,
    ("v1", "GET", "/users"): 20,
    ("v1", "GET", "/users/me"): 2,
    ("v1", "GET", "/users/find"): 40,
    ("v1", "GET", "/activityTypes"): 20,
    ("v1", "GET", "/notes"): 20,
    ("v1", "POST", "/notes"): 10,
    ("v1", "PUT", "/notes/{id}"): 10,
    ("v1", "DELETE", "/notes/{id}"): 6,
    ("v1", "GET", "/notes/{id}"): 2,
    ("v1", "GET", "/files/{id}"): 2,
    ("v1", "GET", "/files/{id}/download"): 20,
    ("v1", "GET", "/files"): 20,
    ("v1", "POST", "/files"): 10,
    ("v1", "DELETE", "/files/{id}"): 6,
    ("v1", "GET", "/deals/{id}/files"): 20,
    ("v1", "GET", "/persons/{id}/files"): 20,
    ("v1", "GET", "/organizations/{id}/files"): 20,  # the lost-answer lookup of a file attached to a clinic
    ("v1", "GET", "/personFields"): 20,
    ("v1", "DELETE", "/personFields"): 10,
    ("v1", "GET", "/organizationFields"): 20,
    ("v1", "DELETE", "/organizationFields"): 10,
    ("v1", "GET", "/dealFields"): 20,
    ("v1", "DELETE", "/dealFields"): 10,
}

_NUMERIC_SEGMENT = re.compile(r"/\d+(?=/|$)")


class CostTable:
    """Looks up the token cost of a call by version, method and path template."""

    def __init__(self, costs: dict[tuple[str, str, str], int] | None = None) -> None:
        self.costs = dict(costs or BUILTIN_COSTS)

    @classmethod
    def from_openapi_dir(cls, openapi_dir: str | None) -> CostTable:
        """Read `x-token-cost` from v2.yaml/v1.yaml in `openapi_dir`; fall back to the built-in table."""
        table = cls()
        if not openapi_dir:
            return table
        for version in ("v2", "v1"):
            spec_path = Path(openapi_dir) / f"{version}.yaml"
            if spec_path.exists():
                table.costs.update(_scan_costs(version, spec_path.read_text(encoding="utf-8")))
        return table

    def cost(self, version: str, method: str, path: str) -> int:
        """Cost of one call; unknown operations count 10 (a list's cost) to err on the safe side."""
        template = _NUMERIC_SEGMENT.sub("/{id}", path)
        for candidate in (template, re.sub(r"/[0-9a-f]{40}(?=/|$)", "/{id}", template)):
            for key in ((version, method, candidate), (version, method, candidate.replace("{id}", "{field_code}"))):
                if key in self.costs:
                    return self.costs[key]
        return 10


_PATH_LINE = re.compile(r"^  ['\"]?(/[^'\"\s]*)['\"]?:\s*$")
_METHOD_LINE = re.compile(r"^    (get|post|put|patch|delete):\s*$")
_COST_LINE = re.compile(r"^      x-token-cost:\s*(\d+)\s*$")


def _scan_costs(version: str, text: str) -> dict[tuple[str, str, str], int]:
    """`x-token-cost` per operation from an OpenAPI YAML's `paths:` block (a line scan: the specs are
    large and a full YAML parse takes tens of seconds)."""
    costs: dict[tuple[str, str, str], int] = {}
    in_paths, path, method = False, None, None
    for line in text.splitlines():
        if not line.startswith(" ") and line.strip():
            in_paths = line.startswith("paths:")
            continue
        if not in_paths:
            continue
        if match := _PATH_LINE.match(line):
            path, method = re.sub(r"\{[^}]+\}", "{id}", match.group(1)), None
        elif match := _METHOD_LINE.match(line):
            method = match.group(1).upper()
        elif (match := _COST_LINE.match(line)) and path and method:
            costs[(version, method, path)] = int(match.group(1))
    return costs


# The create call of each entity stream: what one new record costs (preflight and the budget plan).
CREATE_CALLS = {
    "organizations": ("v2", "POST", "/organizations"),
    "persons": ("v2", "POST", "/persons"),
    "deals": ("v2", "POST", "/deals"),
    "activities": ("v2", "POST", "/activities"),
    "notes": ("v1", "POST", "/notes"),
    "files": ("v1", "POST", "/files"),
}
