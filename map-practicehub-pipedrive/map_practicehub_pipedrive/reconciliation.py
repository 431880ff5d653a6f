"""Counts per source stream: records in = entities out + skipped + merged + documented + reference
+ consumed + not sampled. Written to reports_dir/reconciliation.json at end of input."""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from pathlib import Path

OUTCOMES = ("out", "skipped", "merged", "documented", "reference", "consumed", "not_sampled")


class Reconciliation:
    def __init__(self) -> None:
        self.counts: dict[str, Counter] = defaultdict(Counter)
        self.reasons: dict[str, Counter] = defaultdict(Counter)
        self.emitted: Counter = Counter()
        self.unmapped: dict[str, Counter] = defaultdict(Counter)
        self.degradations: dict[str, Counter] = defaultdict(Counter)

    def count(self, stream: str, outcome: str, reason: str | None = None) -> None:
        counts = self.counts[stream]
        counts["in"] += 1
        counts[outcome] += 1
        if reason:
            self.reasons[stream][reason] += 1

    def degraded(self, stream: str, reason: str) -> None:
        """A value of a record that landed was degraded (the record itself is counted as out or merged)."""
        self.degradations[stream][reason] += 1

    def unmapped_field(self, stream: str, name: str) -> None:
        self.unmapped[stream][name] += 1

    def report(self) -> dict:
        streams = {}
        for stream in sorted(self.counts):
            counts = self.counts[stream]
            row = {"in": counts["in"], **{outcome: counts[outcome] for outcome in OUTCOMES}}
            row["balanced"] = row["in"] == sum(row[outcome] for outcome in OUTCOMES)
            if self.reasons[stream]:
                row["skip_reasons"] = dict(sorted(self.reasons[stream].items()))
            if self.degradations[stream]:
                row["degraded_values"] = dict(sorted(self.degradations[stream].items()))
            if self.unmapped[stream]:
                row["unmapped_fields"] = dict(sorted(self.unmapped[stream].items()))
            streams[stream] = row
        return {"balanced": all(row["balanced"] for row in streams.values()),
                "streams": streams, "records_emitted": dict(sorted(self.emitted.items()))}

    def write(self, reports_dir: Path) -> dict:
        report = self.report()
        reports_dir.mkdir(parents=True, exist_ok=True)
        (reports_dir / "reconciliation.json").write_text(json.dumps(report, indent=2) + "\n", "utf-8")
        return report
