"""Dress rehearsal: the whole load into a local twin of the account, and what the real run will do.

`meltano run rehearsal` loads into `pipedrive-sandbox --fixture <snapshot>` (setting `rehearsal`). The
rehearsal starts from an empty state folder each time (the twin starts fresh from the snapshot, so an
earlier rehearsal's ledger would point at records the twin no longer has), sends no STATE (the next
rehearsal reads PracticeHub whole again), and ends with `rehearsal.json` and `rehearsal.md`: per stream
what the real run will create, adopt (existing records it updates instead of duplicating), update and
skip; the fields, options, pipelines and stages it will create or reuse; and its tokens and days of
budget on the real plan. Counts only: no source ids, no values.
"""

from __future__ import annotations

import json
import math
import shutil
import sys
from collections import Counter
from pathlib import Path
from urllib.parse import urlsplit

from target_pipedrive.client import daily_budget
from target_pipedrive.ledger import ORIGIN_PREEXISTING, Ledger
from target_pipedrive.owners import ConfigurationError
from target_pipedrive.report import write_private

MARKER = "REHEARSAL"
SCHEMA_OBJECTS = ("pipeline", "stage")
LOOPBACK = ("127.0.0.1", "localhost", "::1")


def check_twin(base_url: str) -> None:
    """A rehearsal writes: only into a twin on this machine, never into the account it copies."""
    host = urlsplit(base_url).hostname or ""
    if host not in LOOPBACK:
        raise ConfigurationError(
            f"rehearsal: base_url {host or base_url!r} is not a local twin; set PIPEDRIVE_TWIN_URL to the "
            "pipedrive-sandbox started with --fixture <snapshot> (http://127.0.0.1:PORT)"
        )


def prepare(state_dir: Path) -> None:
    """Empty the rehearsal's state folder; refuse a folder that holds a real migration's state."""
    if state_dir.is_dir() and any(state_dir.iterdir()):
        if not (state_dir / MARKER).is_file():
            raise ConfigurationError(
                f"rehearsal: {state_dir} holds a migration's state, not a rehearsal's; give the rehearsal its own"
                " state_dir (meltano.yml: output/<environment>/rehearsal/pipedrive)"
            )
        shutil.rmtree(state_dir)
    state_dir.mkdir(parents=True, exist_ok=True)
    write_private(state_dir / MARKER, "This folder is a dress rehearsal's: each rehearsal replaces it.\n")


def predict(state_dir: Path, plan: str, seats: int) -> dict:
    """What the run whose `summary.json` is in `state_dir` did, as the plan for the real run."""
    summary = json.loads((state_dir / "summary.json").read_text("utf-8"))
    run_id = summary["run_id"]
    adopted = _adopted(state_dir / "ledger.sqlite", run_id)
    streams = {}
    for stream, counts in sorted(summary["streams"].items()):
        adopt = adopted.get(stream, 0)
        streams[stream] = {"records": counts["received"], "create": counts["created"], "adopt": adopt,
                           "update": counts["updated"] - adopt, "unchanged": counts["unchanged"],
                           "skip": counts["skipped"]}
    totals = {key: sum(row[key] for row in streams.values())
              for key in ("records", "create", "adopt", "update", "unchanged", "skip")}
    fields = Counter(row.get("status") for row in summary.get("fields") or [])
    created = Counter()
    for entry in _manifest(state_dir / "manifest.jsonl"):
        if entry.get("op") == "create" and entry.get("run_id") == run_id:
            if entry.get("type") in SCHEMA_OBJECTS:
                created[entry["type"]] += 1
            elif entry.get("type") == "field_options":
                created["option"] += len(entry.get("option_ids") or [])
    budget = daily_budget(plan, seats)  # the real plan's: the twin's own budget is the sandbox's
    tokens = int((summary.get("api") or {}).get("tokens") or 0)
    return {
        "run_id": run_id,
        "status": summary.get("status"),
        "streams": streams,
        "totals": totals,
        "skipped_by_mapper": summary.get("transform_skipped", 0),
        "unmatched_owners": len(summary.get("unmatched_owners") or []),
        "schema": {"fields_created": fields["created"], "fields_reused": fields["reused"],
                   "options_created": created["option"], "pipelines_created": created["pipeline"],
                   "stages_created": created["stage"]},
        "budget": {"calls": int((summary.get("api") or {}).get("calls") or 0), "tokens": tokens,
                   "daily_budget": budget, "plan": plan, "seats": seats,
                   "days_needed": max(math.ceil(tokens / budget), 1) if tokens else 0},
    }


def write(state_dir: Path, prediction: dict) -> Path:
    write_private(state_dir / "rehearsal.json", json.dumps(prediction, indent=2, sort_keys=True) + "\n")
    write_private(state_dir / "rehearsal.md", markdown(prediction))
    return state_dir / "rehearsal.md"


def report(prediction: dict, path: Path) -> None:
    totals, schema, budget = prediction["totals"], prediction["schema"], prediction["budget"]
    print(f"rehearsal {prediction['status']} — the real run will create {totals['create']}, adopt "
          f"{totals['adopt']}, update {totals['update']} and skip {totals['skip']} records "
          f"(+{prediction['skipped_by_mapper']} left out by the mapper); create {schema['fields_created']} fields, "
          f"{schema['options_created']} options, {schema['pipelines_created']} pipelines, "
          f"{schema['stages_created']} stages; {budget['tokens']} tokens = {budget['days_needed']} day(s) of "
          f"{budget['daily_budget']} ({budget['plan']}, {budget['seats']} seats). Report: {path}", file=sys.stderr)


def markdown(prediction: dict) -> str:
    lines = ["# Dress rehearsal: what the real run will do", "",
             f"Rehearsal run `{prediction['run_id']}` ({prediction['status']}) on a twin of the account.", "",
             "| stream | records | create | adopt | update | unchanged | skip |", "|---|---:|---:|---:|---:|---:|---:|"]
    for stream, row in prediction["streams"].items():
        lines.append(f"| {stream} | {row['records']} | {row['create']} | {row['adopt']} | {row['update']} | "
                     f"{row['unchanged']} | {row['skip']} |")
    totals = prediction["totals"]
    lines.append(f"| **total** | {totals['records']} | {totals['create']} | {totals['adopt']} | {totals['update']} | "
                 f"{totals['unchanged']} | {totals['skip']} |")
    schema, budget = prediction["schema"], prediction["budget"]
    lines += ["", f"Left out by the mapper: {prediction['skipped_by_mapper']}. Practitioners without a Pipedrive "
              f"user (their records go to the fallback owner): {prediction['unmatched_owners']}.", "",
              f"Account set-up: {schema['fields_created']} custom fields created, {schema['fields_reused']} reused; "
              f"{schema['options_created']} options, {schema['pipelines_created']} pipelines and "
              f"{schema['stages_created']} stages created.", "",
              f"Budget: {budget['calls']} calls, {budget['tokens']} tokens; at {budget['daily_budget']} tokens a day "
              f"({budget['plan']}, {budget['seats']} seats) the real run needs {budget['days_needed']} day(s).", ""]
    return "\n".join(lines)


def _adopted(path: Path, run_id: str) -> Counter:
    if not path.is_file():
        return Counter()
    return Counter(row.stream for row in Ledger.read_landed(path)
                   if row.origin == ORIGIN_PREEXISTING and row.run_id == run_id)


def _manifest(path: Path) -> list[dict]:
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text("utf-8").splitlines() if line.strip()]
