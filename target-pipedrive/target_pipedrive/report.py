"""The run's JSON summary: counts that reconcile, unmatched owners, API usage, the field map."""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path

from target_pipedrive.ledger import PRIVATE

OUTCOMES = ("received", "created", "updated", "unchanged", "skipped", "waiting")


class RunReport:
    """received = created + updated + unchanged + skipped + waiting, per stream (waiting is 0 at the end)."""

    def __init__(self, run_id: str) -> None:
        self.run_id = run_id
        self.status = "running"
        self.message = ""
        self.started_at = time.time()
        self.streams: dict[str, dict[str, int]] = {}
        self.ignored_properties: dict[str, dict[str, int]] = {}
        # (stream, property, reason) → [count, detail]: every value that could not be written as sent
        self._warnings: dict[tuple[str, str, str], list] = {}
        self.unresolved_references: dict[str, dict[str, int]] = {}
        self.budget_plan: dict = {}
        self.transform_skipped = 0
        self.unmatched_owners: list[dict] = []
        self.adoptions: list[dict] = []  # account persons adopted or not, with the evidence (field names only)
        self.conflicts: list[dict] = []  # fields changed both in the source and by the team (names only, no values)
        self.source_deletions: list[dict] = []  # records deleted in PracticeHub after they landed, and what was done
        self.on_source_delete = "report"
        self.api: dict = {}
        self.fields: list[dict] = []
        self.phi_guard: dict = {}  # what the target's PHI check kept out (phi_guard.py)
        self._lock = threading.Lock()

    def _stream(self, stream: str) -> dict[str, int]:
        return self.streams.setdefault(stream, dict.fromkeys(OUTCOMES, 0))

    def count(self, stream: str, outcome: str, n: int = 1) -> None:
        with self._lock:
            self._stream(stream)[outcome] += n

    def set_waiting(self, stream: str, n: int) -> None:
        with self._lock:
            self._stream(stream)["waiting"] = n

    def ignored(self, stream: str, key: str, detail: str = "Pipedrive has no field for this property") -> None:
        """A property with a value that was not sent: counted by name and listed in `warnings`."""
        with self._lock:
            bucket = self.ignored_properties.setdefault(stream, {})
            bucket[key] = bucket.get(key, 0) + 1
        self.warn(stream, key, "not_written", detail)

    def unresolved(self, stream: str, key: str, detail: str) -> None:
        """A reference (org/person custom field) that matched nothing: written empty, counted."""
        with self._lock:
            bucket = self.unresolved_references.setdefault(stream, {})
            bucket[key] = bucket.get(key, 0) + 1
        self.warn(stream, key, "unresolved_reference", detail)

    def warn(self, stream: str, key: str, reason: str, detail: str) -> None:
        with self._lock:
            entry = self._warnings.setdefault((stream, key, reason), [0, detail])
            entry[0] += 1

    def adoption(self, decision: str, source_id: str, pipedrive_id: int, verdict, note: str = "") -> None:
        """An account person with a record's email: `adopted` (the same person) or `not_adopted`."""
        with self._lock:
            self.adoptions.append({"decision": decision, "source_id": source_id, "pipedrive_id": pipedrive_id,
                                   "matched_on": list(verdict.matched_on), "differs_on": list(verdict.differs_on),
                                   "not_compared": list(verdict.not_compared), "note": note})

    def conflict(self, row: dict) -> None:
        with self._lock:
            self.conflicts.append(row)

    def warnings(self) -> list[dict]:
        with self._lock:
            return [
                {"stream": stream, "property": key, "reason": reason, "count": count, "detail": detail}
                for (stream, key, reason), (count, detail) in sorted(self._warnings.items())
            ]

    def reconciles(self) -> bool:
        return all(
            c["received"] == c["created"] + c["updated"] + c["unchanged"] + c["skipped"] + c["waiting"]
            for c in self.streams.values()
        )

    def as_dict(self) -> dict:
        with self._lock:
            streams = {s: dict(c) for s, c in self.streams.items()}
            adoptions = sorted(self.adoptions, key=lambda row: (row["source_id"], row["pipedrive_id"]))
            conflicts = sorted(self.conflicts, key=lambda row: (row["entity"], row["source_id"], row["field"]))
        totals = {k: sum(c[k] for c in streams.values()) for k in OUTCOMES}
        return {
            "run_id": self.run_id,
            "status": self.status,
            "message": self.message,
            "started_at": self.started_at,
            "elapsed_seconds": round(time.time() - self.started_at, 3),
            "streams": streams,
            "totals": totals,
            "reconciles": self.reconciles(),
            "transform_skipped": self.transform_skipped,
            "ignored_properties": self.ignored_properties,
            "unresolved_references": self.unresolved_references,
            "warnings": self.warnings(),
            "budget_plan": self.budget_plan,
            "unmatched_owners": self.unmatched_owners,
            "adoptions": adoptions,
            "conflicts": conflicts,
            "source_deletions": {"policy": self.on_source_delete, "records": list(self.source_deletions),
                                 "by_stream": _by_stream(self.source_deletions)},
            "api": self.api,
            "fields": self.fields,
            "phi_guard": self.phi_guard,
        }

    def write(self, state_dir: Path) -> Path:
        """`summary-<run_id>.json` plus `summary.json` (the latest run), both owner-only."""
        text = json.dumps(self.as_dict(), indent=2, sort_keys=True, default=str) + "\n"
        path = state_dir / f"summary-{self.run_id}.json"
        for target in (path, state_dir / "summary.json"):
            write_private(target, text)
        return path


def _by_stream(rows: list[dict]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for row in rows:
        counts[row["stream"]] = counts.get(row["stream"], 0) + 1
    return dict(sorted(counts.items()))


def write_private(path: Path, text: str) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    fd = os.open(tmp, os.O_CREAT | os.O_TRUNC | os.O_WRONLY, PRIVATE)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    os.replace(tmp, path)
