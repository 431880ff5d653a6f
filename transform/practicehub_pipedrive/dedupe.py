"""Patients with the same email become one person: the first seen survives, deterministically.

The merge map lives in `Reference` (persisted), so a delta run sends a merged patient's new
appointments to the same survivor. The report names source ids only.
"""

from __future__ import annotations

import csv
import hashlib
import json
from pathlib import Path

from practicehub_pipedrive.convert import normalise_email
from practicehub_pipedrive.reference import Reference


class Dedupe:
    def __init__(self, reference: Reference) -> None:
        self.reference = reference
        self.merges_this_run: list[dict] = []

    def survivor_of(self, patient_id: object) -> str | None:
        return self.reference.survivors.get(str(patient_id))

    def resolve(self, patient_id: str, email: str | None) -> str:
        """The survivor for this patient (itself unless an earlier patient has the same email)."""
        known = self.reference.survivors.get(patient_id)
        if known is not None:
            return known
        survivor = patient_id
        if email:
            key = hashlib.sha256(normalise_email(email).encode("utf-8")).hexdigest()
            survivor = self.reference.email_index.setdefault(key, patient_id)
        self.reference.survivors[patient_id] = survivor
        self.reference.dirty = True
        if survivor != patient_id:
            self.reference.merged.setdefault(survivor, []).append(patient_id)
            self.merges_this_run.append({"survivor_source_id": f"patients:{survivor}",
                                         "merged_source_id": f"patients:{patient_id}",
                                         "matched_on": "email"})
        return survivor

    def merged_source_ids(self, survivor: str) -> list[str]:
        return [f"patients:{patient}" for patient in self.reference.merged.get(survivor, [])]

    def write_report(self, reports_dir: Path) -> None:
        reports_dir.mkdir(parents=True, exist_ok=True)
        columns = ["survivor_source_id", "merged_source_id", "matched_on"]
        with (reports_dir / "dedupe.csv").open("w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=columns)
            writer.writeheader()
            writer.writerows(self.merges_this_run)
        (reports_dir / "dedupe.json").write_text(
            json.dumps({"merges": self.merges_this_run}, indent=2) + "\n", "utf-8")
