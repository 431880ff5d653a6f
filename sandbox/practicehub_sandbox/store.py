"""The records a sandbox serves, in the API's (unsorted) order, changeable while it runs."""

from __future__ import annotations

import copy
import threading
from datetime import datetime
from zoneinfo import ZoneInfo

from .filters import Filter, apply_filters, attribute_kind
from .resources import DATETIME_FORMAT, RESOURCE_FIELDS

# Filtered row lists kept per resource: a client pages through one window's filter many times over.
FILTERED_CACHE_SIZE = 16

# Fields the API sends as lists: a record created without them gets [] rather than null.
LIST_FIELDS = frozenset({"custom_fields", "options", "answers", "actions", "patient_ids"})


class UnknownResource(KeyError):
    """The resource is not one of the 18 the API serves."""


def order_key(record: dict) -> int:
    """A stable order that is not the id or the update time (the real API documents none)."""
    return (int(record["id"]) * 2654435761 + 40503) % 4294967291


class RecordStore:
    def __init__(self, dataset: dict[str, list[dict]], timezone: str = "UTC") -> None:
        unknown = sorted(set(dataset) - set(RESOURCE_FIELDS))
        if unknown:
            raise ValueError(f"dataset has unknown resources: {', '.join(unknown)}")
        self.timezone = timezone
        self._lock = threading.Lock()
        self._records: dict[str, dict[int, dict]] = {
            resource: {int(r["id"]): dict(r) for r in dataset.get(resource, [])} for resource in RESOURCE_FIELDS
        }
        for resource, records in self._records.items():
            if len(records) != len(dataset.get(resource, [])):
                raise ValueError(f"dataset has duplicate {resource} ids")
        self._ordered: dict[str, list[dict]] = {}
        self._kinds: dict[str, dict[str, str | None]] = {}
        self._filtered: dict[str, dict[tuple, list[dict]]] = {}

    def _check(self, resource: str) -> dict[int, dict]:
        if resource not in self._records:
            raise UnknownResource(resource)
        return self._records[resource]

    def _changed(self, resource: str) -> None:
        self._ordered.pop(resource, None)
        self._kinds.pop(resource, None)
        self._filtered.pop(resource, None)

    def now(self) -> str:
        return datetime.now(ZoneInfo(self.timezone)).strftime(DATETIME_FORMAT)

    def ordered(self, resource: str) -> list[dict]:
        """All records of a resource in serving order (treat as read-only: changes replace records)."""
        with self._lock:
            records = self._check(resource)
            if resource not in self._ordered:
                self._ordered[resource] = sorted(records.values(), key=order_key)
            return self._ordered[resource]

    def matching(self, resource: str, filters: list[Filter]) -> list[dict]:
        """The records a list request with these filters sees, in serving order (read-only, like ``ordered``)."""
        if not filters:
            return self.ordered(resource)
        signature = tuple((f.attribute, f.expression) for f in filters)
        with self._lock:
            cached = self._filtered.get(resource, {}).get(signature)
        if cached is not None:
            return cached
        rows = self.ordered(resource)
        result = apply_filters(rows, filters)
        with self._lock:
            if self._ordered.get(resource) is rows:  # no change landed while we filtered
                cache = self._filtered.setdefault(resource, {})
                if len(cache) >= FILTERED_CACHE_SIZE:
                    cache.pop(next(iter(cache)))
                cache[signature] = result
        return result

    def kinds(self, resource: str) -> dict[str, str | None]:
        """Filterable kind of each top-level attribute of a resource."""
        rows = self.ordered(resource)
        with self._lock:
            if resource not in self._kinds:
                names = list(RESOURCE_FIELDS[resource])
                names += sorted({k for r in rows for k in r} - set(names))
                self._kinds[resource] = {name: attribute_kind(r.get(name) for r in rows) for name in names}
            return self._kinds[resource]

    def get(self, resource: str, record_id: int) -> dict | None:
        with self._lock:
            return self._check(resource).get(record_id)

    def create(self, resource: str, fields: dict) -> dict:
        with self._lock:
            records = self._check(resource)
            record = {name: [] if name in LIST_FIELDS else None for name in RESOURCE_FIELDS[resource]}
            record.update(fields)
            record["id"] = max(records, default=0) + 1
            record["created"] = record["updated"] = self.now()
            records[record["id"]] = record
            self._changed(resource)
            return copy.deepcopy(record)

    def patch(self, resource: str, record_id: int, fields: dict) -> dict | None:
        with self._lock:
            records = self._check(resource)
            if record_id not in records:
                return None
            record = {**records[record_id], **fields}
            record["id"] = record_id
            record["updated"] = max(self.now(), str(records[record_id].get("updated") or ""))
            records[record_id] = record  # a new dict: pages already being served keep the old one
            self._changed(resource)
            return copy.deepcopy(record)

    def delete(self, resource: str, record_id: int) -> bool:
        with self._lock:
            records = self._check(resource)
            if records.pop(record_id, None) is None:
                return False
            self._changed(resource)
            return True

    def dataset(self) -> dict[str, list[dict]]:
        """A copy of every record, by resource, in id order."""
        with self._lock:
            return {
                resource: [copy.deepcopy(records[i]) for i in sorted(records)]
                for resource, records in self._records.items()
            }
