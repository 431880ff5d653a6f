"""What one run learns that later (delta) runs need: ids, owners, types, the merge map.

Kept as a small JSON file in the state directory. It holds ids, staff names and emails, type and
clinic names and hashed emails: no patient data.
"""

from __future__ import annotations

import os
from pathlib import Path

import orjson

SECTIONS = ("locations", "practitioners", "appointment_types", "custom_field_definitions",
            "appointments", "clinical_notes", "invoices", "survivors", "email_index", "merged")


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
        self.email_index: dict[str, str] = {}          # sha256(normalised email) → survivor id
        self.merged: dict[str, list] = {}              # survivor id → merged patient ids
        self.dirty = False
        if path and path.is_file():
            data = orjson.loads(path.read_bytes())
            for section in SECTIONS:
                getattr(self, section).update(data.get(section, {}))

    def save(self) -> None:
        if not self.path or not self.dirty or self.read_only:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        data = {section: getattr(self, section) for section in SECTIONS}
        temporary = self.path.with_suffix(".tmp")
        temporary.write_bytes(orjson.dumps(data, option=orjson.OPT_SORT_KEYS))
        os.replace(temporary, self.path)
        self.dirty = False
