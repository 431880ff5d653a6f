"""The report's inputs: the files the mapper and the target wrote, read once and parsed (REPORT.md lists them).

Nothing here adds anything up. A file that is missing or unreadable is `None` (or left out, line by line)
and named in `Problems`; the summary decides what that means for its section. The ledger is read through
the target's public read API, the mapper's files by path and format only (the report imports no mapper code).
"""

from __future__ import annotations

import csv
import json
import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from target_pipedrive.ledger import LandedEntity, Ledger

HTML_NAME = "migration_report.html"
JSON_NAME = "migration_report.json"


@dataclass(frozen=True)
class ReportInputs:
    """Where to read (the target's state folder, the mapper's reports folder) and where to write."""

    state_dir: Path
    transform_reports: Path
    out: Path
    generated_at: str | None = None  # fixed in tests; now (UTC) otherwise


class Problems(list):
    """What could not be read or does not add up, by file and line: never the content (it may hold patient data)."""

    def add(self, where: str, what: str) -> None:
        self.append(f"{where}: {what}")


@dataclass(frozen=True)
class InputFiles:
    """Everything the report reads, parsed. `None`: the file is missing (optional ones) or unreadable."""

    # the mapper's reports folder
    reconciliation: dict | None  # reconciliation.json
    dedupe: dict | None  # dedupe.json
    phi: dict | None  # phi.json (mappers older than the PHI report write none)
    workflows: dict | None  # workflows.json
    # the target's state folder
    load_summary: dict | None  # summary.json: the latest run
    run_summaries: list[tuple[str, dict | None]]  # (file name, content) of each summary-<run_id>.json, by name
    skips: list[dict] | None  # skipped.jsonl: every run's
    metrics: list[dict] | None  # metrics.jsonl (optional)
    degraded: list[dict]  # degraded.jsonl: every run's (absent when nothing was degraded: empty)
    verify: dict | None  # verify_summary.json (after `target-pipedrive verify`)
    verify_differences: list[tuple[str, str, str]] | None  # verify_diff.csv: (entity, field, source_id)
    source_check: dict | None  # reconcile.json (after `meltano run reconcile`)
    ledger: list[LandedEntity] | None  # ledger.sqlite, query-only
    manifest: list[dict] | None  # manifest.jsonl
    rollback_progress: list[dict] | None  # rollback_progress.jsonl (after a rollback)
    links: dict[str, str | None]  # relative to the report's folder; None: the file is not there
    problems: Problems


def read_inputs(inputs: ReportInputs) -> InputFiles:
    problems = Problems()
    state, mapper, out = Path(inputs.state_dir), Path(inputs.transform_reports), Path(inputs.out)

    def optional_json(path: Path) -> dict | None:
        return read_json(path, problems) if path.is_file() else None

    def optional_lines(path: Path) -> list[dict] | None:
        return read_json_lines(path, problems) if path.is_file() else None

    return InputFiles(
        reconciliation=read_json(mapper / "reconciliation.json", problems),
        load_summary=read_json(state / "summary.json", problems),
        skips=read_json_lines(state / "skipped.jsonl", problems),
        metrics=optional_lines(state / "metrics.jsonl"),
        workflows=read_json(mapper / "workflows.json", problems),
        phi=optional_json(mapper / "phi.json"),
        verify=optional_json(state / "verify_summary.json"),
        degraded=optional_lines(state / "degraded.jsonl") or [],
        run_summaries=[(path.name, read_json(path, problems)) for path in sorted(state.glob("summary-*.json"))],
        ledger=read_ledger(state / "ledger.sqlite", problems),
        manifest=read_json_lines(state / "manifest.jsonl", problems),
        rollback_progress=optional_lines(state / "rollback_progress.jsonl"),
        links={
            "workflows": link(mapper / "workflows.md", out, problems),
            "field_map": link(state / "field_map.json", out, problems),
            "dedupe_csv": link(mapper / "dedupe.csv", out, problems),
            "json_summary": JSON_NAME,
        },
        dedupe=read_json(mapper / "dedupe.json", problems),
        source_check=optional_json(state / "reconcile.json"),
        verify_differences=read_diff_rows(state / "verify_diff.csv", problems),
        problems=problems,
    )


def read_json(path: Path, problems: Problems) -> dict | None:
    if not path.is_file():
        problems.add(path.name, "not found")
        return None
    try:
        data = json.loads(path.read_text("utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        problems.add(path.name, f"not readable JSON ({type(error).__name__})")
        return None
    if not isinstance(data, dict):
        problems.add(path.name, "not a JSON object")
        return None
    return data


def read_json_lines(path: Path, problems: Problems) -> list[dict] | None:
    if not path.is_file():
        problems.add(path.name, "not found")
        return None
    rows = []
    with path.open(encoding="utf-8", errors="replace") as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                problems.add(f"{path.name} line {number}", "not JSON (line left out)")
                continue
            if isinstance(row, dict):
                rows.append(row)
            else:
                problems.add(f"{path.name} line {number}", "not a JSON object (line left out)")
    return rows


def read_ledger(path: Path, problems: Problems) -> list[LandedEntity] | None:
    try:
        return Ledger.read_landed(path)
    except FileNotFoundError:
        problems.add(path.name, "not found")
    except sqlite3.Error as error:
        problems.add(path.name, f"not readable as the ledger ({type(error).__name__})")
    return None


def read_diff_rows(path: Path, problems: Problems, classification: str = "landed_wrong"
                   ) -> list[tuple[str, str, str]] | None:
    """(entity, field, source_id) of each verify difference of one classification (landed wrong, by default;
    a file without the column: all are); the sent and actual values are never read."""
    if not path.is_file():
        return None
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            return [
                (str(row.get("entity") or ""), str(row.get("field") or ""), str(row.get("source_id") or ""))
                for row in csv.DictReader(handle)
                if (row.get("classification") or "landed_wrong") == classification
            ]
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        problems.add(path.name, f"not readable CSV ({type(error).__name__})")
        return None


def link(target: Path, out: Path, problems: Problems) -> str | None:
    if not target.is_file():
        problems.add(target.name, "not found (no link)")
        return None
    return Path(os.path.relpath(target.resolve(), out.resolve())).as_posix()
