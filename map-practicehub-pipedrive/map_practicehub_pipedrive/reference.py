"""What one run learns that later (delta) runs need: ids, owners, types, the merge map.

Kept as a small JSON file in the state directory, owner-only. It holds ids, staff names and emails, type
and clinic names, and the de-duplication's evidence as digests (target_pipedrive.identity fingerprints)
and field names: no patient value in the clear.
"""

from __future__ import annotations

import os
from pathlib import Path

import orjson

SECTIONS = ("locations", "practitioners", "appointment_types", "custom_field_definitions",
            "appointments", "clinical_notes", "invoices", "survivors", "merged", "email_groups", "fingerprints",
            "dedupe_decisions")
PRIVATE = 0o600


class Reference:
    """Lookups by PracticeHub id (string keys, as JSON stores them)."""

    def __init__(self, path: Path | None = None, read_only: bool = False) -> None:
        self.path = path
        self.read_only = read_only  # the source-side check reads what the runs learnt and changes nothing
        self.locations: dict[str, str] = {}            # location id → organization name
        self.practitioners: dict[str, list] = {}       # id → [email, name]
        self.appointment_types: dict[str, list] = {}   # id → [name, price]
        self.custom_field_definitions: dict[str, dict] = {}
        self.appointments: dict[str, list] = {}        # id → [survivor patient id, practitioner id]
        self.clinical_notes: dict[str, list] = {}      # id → [appointment id or None, survivor id]
        self.invoices: dict[str, list] = {}            # id → [appointment id or None, survivor id]
        self.survivors: dict[str, str] = {}            # patient id → surviving patient id
        self.merged: dict[str, list] = {}              # survivor id → merged patient ids
        self.email_groups: dict[str, list] = {}        # email digest → patient ids with that email, in order
        self.fingerprints: dict[str, dict] = {}        # patient id → identity fingerprint (digests)
        self.dedupe_decisions: dict[str, dict] = {}    # "<decision> <source id> <other>" → report row
        self.dirty = False
        if path and path.is_file():
            data = orjson.loads(path.read_bytes())
            for section in SECTIONS:
                getattr(self, section).update(data.get(section, {}))
            for key, survivor in (data.get("email_index") or {}).items():  # before fingerprints were kept
                self.email_groups.setdefault(key, [survivor, *self.merged.get(survivor, [])])

    def save(self) -> None:
        if not self.path or not self.dirty or self.read_only:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        data = {section: getattr(self, section) for section in SECTIONS}
        temporary = self.path.with_suffix(".tmp")
        descriptor = os.open(temporary, os.O_CREAT | os.O_TRUNC | os.O_WRONLY, PRIVATE)
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(orjson.dumps(data, option=orjson.OPT_SORT_KEYS))
        os.chmod(temporary, PRIVATE)  # an older, wider file of the same name keeps its mode on O_TRUNC
        os.replace(temporary, self.path)
        self.dirty = False
