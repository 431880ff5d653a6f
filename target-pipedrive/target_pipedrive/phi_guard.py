"""The target's own PHI check, a second line behind the mapper: PHI the run may not send is never sent.

The mapper's SCHEMA messages carry `x-phi`: `{"policy": "exclude" | "include", "left_out_properties":
{stream: [property, ...]}, "left_out_streams": [source stream, ...]}`, and each custom field its
`x-pipedrive-field.phi`. With that block present, before anything is written:

- under `exclude`, a custom field marked PHI is not created and its values are not written;
- under either policy, the properties the mapper says it left out (persons' `birthday`: the date of birth)
  are not written, and a record whose `source_id` names a left-out source stream (`clinical_notes:…`)
  is refused (skipped with reason `phi_guard`).

A SCHEMA without `x-phi` (another tap's output) is taken as its upstream sent it. What was stripped or
refused is counted by field name in the run summary (`phi_guard`), never with a value.
"""

from __future__ import annotations

import copy
import threading
from collections import Counter
from dataclasses import dataclass, field


class PhiRefused(Exception):
    """A record from a source stream the mapper left out as PHI."""


@dataclass
class _StreamMarks:
    policy: str
    custom: frozenset[str] = frozenset()  # custom fields marked PHI that this policy may not send
    properties: frozenset[str] = frozenset()
    streams: frozenset[str] = frozenset()
    fields_not_created: list[str] = field(default_factory=list)


class PhiGuard:
    """Per run: the marks of every stream's latest SCHEMA, and what they kept out."""

    def __init__(self) -> None:
        self.marks: dict[str, _StreamMarks] = {}
        self.stripped: Counter[str] = Counter()
        self.refused: Counter[str] = Counter()
        self._lock = threading.Lock()

    def schema(self, stream: str, schema: dict) -> dict:
        """The stream's SCHEMA without the custom fields it may not send (so they are never created)."""
        phi = schema.get("x-phi")
        if not isinstance(phi, dict):
            self.marks.pop(stream, None)
            return schema
        policy = str(phi.get("policy") or "exclude")  # a block without a policy: the safe reading
        custom = (schema.get("properties") or {}).get("custom_fields", {}).get("properties") or {}
        marked = {name for name, spec in custom.items()
                  if isinstance(spec, dict) and (spec.get("x-pipedrive-field") or {}).get("phi")}
        blocked = frozenset(marked) if policy != "include" else frozenset()
        properties = (phi.get("left_out_properties") or {}).get(stream) or []
        self.marks[stream] = _StreamMarks(policy, blocked, frozenset(properties),
                                          frozenset(phi.get("left_out_streams") or []), sorted(blocked))
        if not blocked and not properties:
            return schema
        kept = copy.deepcopy(schema)
        for name in properties:  # persons' birthday left out: no "Date of birth" field is made for it either
            kept["properties"].pop(name, None)
        kept_custom = kept["properties"].get("custom_fields", {}).get("properties") or {}
        for name in blocked:
            kept_custom.pop(name, None)
        return kept

    def check(self, stream: str, record: dict) -> dict:
        """The record as it may be sent: PHI values taken out; raises PhiRefused for a left-out source stream."""
        marks = self.marks.get(stream)
        if marks is None:
            return record
        source = str(record.get("source_id") or "").split(":", 1)[0]
        if source in marks.streams:
            with self._lock:
                self.refused[f"{stream} from {source}"] += 1
            raise PhiRefused(f"{source} is PHI the mapper left out (x-phi)")
        cleaned = record
        for name in marks.properties:
            if record.get(name) not in (None, "", [], {}):
                cleaned = {**cleaned, name: None}
                self._count(f"{stream}.{name}")
        custom = record.get("custom_fields") or {}
        blocked = [name for name in marks.custom if custom.get(name) not in (None, "", [])]
        if blocked:
            cleaned = {**cleaned, "custom_fields": {k: v for k, v in custom.items() if k not in marks.custom}}
            for name in blocked:
                self._count(f"{stream}.custom_fields.{name}")
        return cleaned

    def _count(self, key: str) -> None:
        with self._lock:
            self.stripped[key] += 1

    def report(self) -> dict:
        """For the run summary: the policy per stream, fields never created, values stripped, records refused."""
        with self._lock:
            return {
                "policies": {stream: marks.policy for stream, marks in sorted(self.marks.items())},
                "fields_not_created": {stream: marks.fields_not_created
                                       for stream, marks in sorted(self.marks.items()) if marks.fields_not_created},
                "values_stripped": dict(sorted(self.stripped.items())),
                "records_refused": dict(sorted(self.refused.items())),
            }
