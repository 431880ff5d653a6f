"""What `propose` reads beside the catalog and the sample: the audit's definitions (in full) and profile sample.

`tap-practicehub`'s audit writes both into its output folder (`output/<environment>/audit`, beside the
mapping file's folder); `propose` uses them when they are there and says so when they are not.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import click

DEFINITIONS_FILE = "patient_custom_fields.json"
PROFILE_FILE = "profile-sample.jsonl"


class ProposalInputError(click.ClickException):
    exit_code = 2


@dataclass
class AuditInputs:
    folder: Path | None = None
    definitions: list[dict] | None = None  # every definition, or None when not read in full
    records: dict[str, list[dict]] = field(default_factory=dict)

    def describe(self) -> list[str]:
        """One line each: where the definitions and the profiled records came from."""
        if self.definitions is None:
            return [f"patient custom field definitions: only those in the sample (no audit/{DEFINITIONS_FILE} "
                    "beside the mapping file's folder; run `meltano invoke tap-practicehub:audit` first to read "
                    "them in full). Patient fields nobody classified are proposed as PHI."]
        profiled = sum(len(rows) for rows in self.records.values())
        return [f"patient custom field definitions: all {len(self.definitions)}, from {self.folder / DEFINITIONS_FILE}",
                f"value profile: {profiled} records from {self.folder / PROFILE_FILE}" if profiled else
                f"value profile: no {PROFILE_FILE} in {self.folder}"]


def read_audit(folder: Path) -> AuditInputs:
    """The audit's files in `folder`; missing files give empty inputs, unreadable ones a one-line error."""
    inputs = AuditInputs(folder=folder)
    definitions = folder / DEFINITIONS_FILE
    if definitions.is_file():
        try:
            data = json.loads(definitions.read_text("utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
            raise ProposalInputError(f"{definitions} is not readable JSON ({type(error).__name__}); "
                                     "re-run the audit") from None
        rows = data.get("definitions") if isinstance(data, dict) else None
        if not isinstance(rows, list) or not data.get("complete"):
            raise ProposalInputError(f"{definitions} does not hold the complete definitions; re-run the audit")
        inputs.definitions = [row for row in rows if isinstance(row, dict)]
    profile = folder / PROFILE_FILE
    if profile.is_file():
        with profile.open(encoding="utf-8") as handle:
            for number, line in enumerate(handle, 1):
                if not line.strip():
                    continue
                try:
                    message = json.loads(line)
                except json.JSONDecodeError:
                    raise ProposalInputError(f"{profile} line {number} is not JSON; re-run the audit") from None
                if isinstance(message, dict) and message.get("type") == "RECORD":
                    inputs.records.setdefault(str(message.get("stream")), []).append(message.get("record") or {})
    return inputs


def merged_records(*sources: dict[str, list[dict]] | None) -> dict[str, list[dict]]:
    """Records of every source, each (stream, id) once: the first copy wins."""
    merged: dict[str, list[dict]] = {}
    seen: set[tuple[str, str]] = set()
    for source in sources:
        for stream, rows in (source or {}).items():
            bucket = merged.setdefault(stream, [])
            for row in rows:
                key = (stream, str(row.get("id"))) if isinstance(row, dict) and row.get("id") is not None else None
                if key is None or key not in seen:
                    bucket.append(row)
                    if key:
                        seen.add(key)
    return merged
