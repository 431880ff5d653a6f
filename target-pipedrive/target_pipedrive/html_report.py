"""The migration report: one self-contained HTML page and a JSON summary with the same numbers.

Reads what the mapper wrote (its reports_dir) and what the target wrote (its state directory);
the inputs are specified in target-pipedrive/REPORT.md. Usage:

    python -m target_pipedrive.html_report --state-dir DIR --transform-reports DIR --out DIR

The whole migration (every run, what is in Pipedrive now) comes first; the sections after it describe
the latest run (`summary.json`, which each run overwrites).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from target_pipedrive import report_history
from target_pipedrive.privacy import private_outputs
from target_pipedrive.report_templates import page

SCHEMA_VERSION = 1
HTML_NAME = "migration_report.html"
JSON_NAME = "migration_report.json"
MAX_POINTS = 240
SOURCE_OUTCOMES = ("out", "merged", "skipped", "documented", "reference", "consumed", "not_sampled")
KEPT_ASIDE = ("documented", "reference", "consumed", "not_sampled")
# `waiting` (children whose parent has not landed) is 0 when a run completes; `failed` is optional.
LOAD_OUTCOMES = ("created", "updated", "unchanged", "skipped", "waiting", "failed")
SKIPPED_STREAM = "skipped"  # the mapper's stream of records it did not turn into entities
DEGRADED_STREAM = "degraded"  # the mapper's field-level degradations of records that landed
RUN_COUNTS = ("received", "created", "updated", "unchanged", "skipped")
RUN_API = ("calls", "status_429", "tokens")
ISO_UTC = "%Y-%m-%dT%H:%M:%SZ"


@dataclass(frozen=True)
class ReportInputs:
    state_dir: Path
    transform_reports: Path
    out: Path
    generated_at: str | None = None  # fixed in tests; now (UTC) otherwise


class Problems(list):
    """What could not be read, by file and line: never the content (it may hold patient data)."""

    def add(self, where: str, what: str) -> None:
        self.append(f"{where}: {what}")


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


def count(value: object, where: str, problems: Problems) -> int:
    """A count from the inputs; anything but a non-negative integer is a problem (and counts 0)."""
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0 or value != int(value):
        problems.add(where, "not a non-negative whole number")
        return 0
    return int(value)


def _mapping(value: object) -> dict:
    return value if isinstance(value, dict) else {}


def _rows(value: object) -> list[dict]:
    """The objects of a list from the inputs (anything else in it is left out)."""
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


# --- sections ---------------------------------------------------------------------------------------


def source_reconciliation(reconciliation: dict | None, problems: Problems) -> list[dict]:
    rows = []
    for stream, counts in sorted(_mapping((reconciliation or {}).get("streams")).items()):
        counts = _mapping(counts)
        row = {
            "stream": str(stream),
            "in": count(counts.get("in"), f"reconciliation.json {stream}.in", problems),
        }
        for outcome in SOURCE_OUTCOMES:
            row[outcome] = count(counts.get(outcome), f"reconciliation.json {stream}.{outcome}", problems)
        row["kept_aside"] = sum(row[outcome] for outcome in KEPT_ASIDE)
        row["difference"] = row["in"] - sum(row[outcome] for outcome in SOURCE_OUTCOMES)
        row["balanced"] = row["difference"] == 0
        rows.append(row)
    return rows


def load_reconciliation(
    load_summary: dict | None, problems: Problems, source: str = "summary.json"
) -> list[dict]:
    rows = []
    for stream, counts in sorted(_mapping((load_summary or {}).get("streams")).items()):
        counts = _mapping(counts)
        row = {"stream": str(stream)}
        for key in ("received", *LOAD_OUTCOMES):
            row[key] = count(counts.get(key), f"{source} {stream}.{key}", problems)
        row["landed"] = row["created"] + row["updated"] + row["unchanged"]
        row["difference"] = row["received"] - sum(row[outcome] for outcome in LOAD_OUTCOMES)
        row["balanced"] = row["difference"] == 0 and row["waiting"] == 0 and row["failed"] == 0
        rows.append(row)
    return rows


def handover_reconciliation(
    reconciliation: dict | None, load_rows: list[dict], skip_rows: list[dict] | None, problems: Problems,
    degraded_rows: list[dict] | None = None,
) -> list[dict]:
    """What the mapper emitted against what the target took in, per stream (and the skip file)."""
    emitted = {
        str(stream): count(value, f"reconciliation.json records_emitted.{stream}", problems)
        for stream, value in _mapping((reconciliation or {}).get("records_emitted")).items()
    }
    received = {row["stream"]: row["received"] for row in load_rows}
    if skip_rows is not None:
        received[SKIPPED_STREAM] = sum(1 for row in skip_rows if skip_origin(row) == "transform")
    if degraded_rows:
        received[DEGRADED_STREAM] = len(degraded_rows)  # the degradation file's lines of this run
    rows = []
    for stream in sorted(set(emitted) | set(received)):
        row = {"stream": stream, "emitted": emitted.get(stream, 0), "received": received.get(stream, 0)}
        row["difference"] = row["emitted"] - row["received"]
        row["balanced"] = row["difference"] == 0
        rows.append(row)
    return rows


def run_history(state: Path, latest_run_id: str, problems: Problems) -> list[dict]:
    """Every run of this state folder, oldest first, from its `summary-<run_id>.json`; the latest is marked."""
    runs = []
    for path in sorted(state.glob("summary-*.json")):
        run_summary = read_json(path, problems)
        if run_summary is None:
            continue
        started = parse_time(run_summary.get("started_at"))
        if started is None:
            problems.add(path.name, "no usable started_at (listed first)")
        streams = load_reconciliation(run_summary, problems, path.name)
        api = _mapping(run_summary.get("api"))
        row = {
            "run_id": str(run_summary.get("run_id") or path.stem.removeprefix("summary-")),
            "started_at": ""
            if started is None
            else datetime.fromtimestamp(int(started), UTC).strftime(ISO_UTC),
            "status": str(run_summary.get("status") or "unknown"),
            **{key: sum(stream[key] for stream in streams) for key in RUN_COUNTS},
            **{key: count(api.get(key), f"{path.name} api.{key}", problems) for key in RUN_API},
        }
        runs.append((started or 0.0, row["run_id"], row))
    rows = [row for _, _, row in sorted(runs, key=lambda run: run[:2])]
    latest = latest_run_id or (rows[-1]["run_id"] if rows else "")
    for row in rows:
        row["latest"] = row["run_id"] == latest
    if latest_run_id and not any(row["latest"] for row in rows):
        problems.add(
            f"summary-{latest_run_id}.json", "not found: the latest run is missing from the runs table"
        )
    return rows


def skip_origin(row: dict) -> str:
    """`transform` for the mapper's skips, `target` for the target's own."""
    if row.get("origin") in ("transform", "target"):
        return row["origin"]
    return "transform" if "source_stream" in row else "target"  # a mapper record written as it came


def this_run(skip_rows: list[dict] | None, run_id: object) -> list[dict] | None:
    """The skip file grows over runs: keep the entries of the run the summary describes."""
    if skip_rows is None or not run_id:
        return skip_rows
    return [row for row in skip_rows if row.get("run_id") in (None, run_id)]


def skips_summary(skip_rows: list[dict] | None) -> dict:
    """Counts per origin, stream and reason: no source IDs, no details (they could identify a patient)."""
    counter: Counter = Counter()
    for row in skip_rows or []:
        stream = row.get("entity") or row.get("source_stream") or "unknown"
        counter[(skip_origin(row), str(stream), str(row.get("reason") or "no_reason_given"))] += 1
    by_reason = [
        {"origin": origin, "stream": stream, "reason": reason, "count": number}
        for (origin, stream, reason), number in sorted(counter.items())
    ]
    return {"available": skip_rows is not None, "total": sum(counter.values()), "by_stream_reason": by_reason}


def parse_time(value: object) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
        return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()
    return None


def throughput(metric_rows: list[dict] | None, api: dict, problems: Problems) -> dict:
    """Per-second figures from metrics.jsonl; without it, the run's totals from summary.json only."""
    per_second: dict[int, Counter] = {}
    for index, row in enumerate(metric_rows or [], 1):
        moment = parse_time(row.get("t"))
        if moment is None:
            problems.add(f"metrics.jsonl row {index}", "no usable time t (row left out)")
            continue
        second = per_second.setdefault(int(moment), Counter())
        for key in ("calls", "status_429", "tokens"):
            second[key] += count(row.get(key), f"metrics.jsonl row {index} {key}", problems)
    if not per_second:
        totals = {
            key: count(api.get(key), f"summary.json api.{key}", problems)
            for key in ("calls", "status_429", "tokens")
        }
        seconds = round(float(api.get("elapsed_seconds") or 0), 1)
        return {
            "available": bool(api),
            "per_second": False,
            "seconds": seconds,
            **totals,
            "peak_calls_per_second": None,
            "average_calls_per_second": round(totals["calls"] / seconds, 2) if seconds else 0.0,
            "seconds_per_point": 1,
            "series": [],
        }
    totals = {
        key: sum(second[key] for second in per_second.values()) for key in ("calls", "status_429", "tokens")
    }
    first, last = min(per_second), max(per_second)
    seconds = last - first + 1
    seconds_per_point = -(-seconds // MAX_POINTS)
    series = []
    for offset in range(0, seconds, seconds_per_point):
        point = Counter()
        for second in range(first + offset, min(first + offset + seconds_per_point, last + 1)):
            point.update(per_second.get(second, Counter()))
        series.append(
            {
                "offset": offset,
                "calls": point["calls"],
                "status_429": point["status_429"],
                "tokens": point["tokens"],
            }
        )
    return {
        "available": True,
        "per_second": True,
        "seconds": seconds,
        **totals,
        "peak_calls_per_second": max(second["calls"] for second in per_second.values()),
        "average_calls_per_second": round(totals["calls"] / seconds, 2),
        "started_at": datetime.fromtimestamp(first, UTC).isoformat(),
        "seconds_per_point": seconds_per_point,
        "series": series,
    }


def budget(api: dict, tokens_used: int, problems: Problems) -> dict:
    """The company's daily token budget: what this run used, what is left, of how much (when known)."""
    if api.get("daily_tokens_remaining") is None:
        return {"available": False, "used_by_run": tokens_used}
    remaining = count(api.get("daily_tokens_remaining"), "summary.json api.daily_tokens_remaining", problems)
    limit_value = api.get("daily_token_limit")
    if limit_value is None:
        return {
            "available": True,
            "daily_limit": None,
            "remaining": remaining,
            "used_by_run": tokens_used,
            "used_by_others": None,
            "used_today": None,
            "percent_used": None,
        }
    limit = count(limit_value, "summary.json api.daily_token_limit", problems)
    used_today = max(limit - remaining, 0)
    return {
        "available": True,
        "daily_limit": limit,
        "remaining": remaining,
        "used_by_run": tokens_used,
        "used_by_others": max(used_today - tokens_used, 0),
        "used_today": used_today,
        "percent_used": round(100 * used_today / limit, 1) if limit else 0.0,
    }


def token_estimate(plan: dict) -> dict:
    """The tokens the run was planned with (the preflight's, or counted at the first write) and what it used."""
    if plan.get("tokens_estimated") is None or plan.get("tokens_used") is None:
        return {"available": False}
    return {"available": True, "estimated": int(plan["tokens_estimated"]), "used": int(plan["tokens_used"]),
            "accuracy": plan.get("estimate_accuracy"), "basis": str(plan.get("basis") or "")}


def unmatched_practitioners(load_summary: dict | None, problems: Problems) -> list[dict]:
    rows = []
    for index, owner in enumerate((load_summary or {}).get("unmatched_owners") or [], 1):
        if not isinstance(owner, dict):
            problems.add(f"summary.json unmatched_owners[{index}]", "not an object")
            continue
        records = owner.get("records")
        per_stream = (
            {
                str(stream): count(n, f"summary.json unmatched_owners[{index}].records.{stream}", problems)
                for stream, n in records.items()
            }
            if isinstance(records, dict)
            else {"all": count(records, f"summary.json unmatched_owners[{index}].records", problems)}
        )
        anonymous = not owner.get("owner_name") and not owner.get("owner_source_id")
        rows.append(
            {
                "name": "(no practitioner in PracticeHub)"
                if anonymous
                else str(owner.get("owner_name") or "(no name)"),
                "source_id": str(owner.get("owner_source_id") or ""),
                "email": str(owner.get("owner_email") or ""),
                "fallback_owner": str(owner.get("assigned_to") or owner.get("fallback_owner") or ""),
                "records": sum(per_stream.values()),
                "records_by_stream": per_stream,
            }
        )
    return sorted(rows, key=lambda row: (row["name"], row["source_id"]))


def _fields(value: object) -> str:
    """Field names as the report shows them ("email, name"); the mapper writes lists, older files strings."""
    if isinstance(value, list):
        return ", ".join(str(item) for item in value)
    return str(value or "")


def _source_ids(row: dict, *keys: str) -> dict:
    return {key: str(row.get(key) or "") for key in keys}


def dedupe(dedupe_report: dict | None, adoptions: list[dict]) -> dict:
    """The mapper's de-dup decisions for the whole migration and the target's adoptions: ids and field names."""
    found = dedupe_report or {}
    merges = [
        {**_source_ids(merge, "survivor_source_id", "merged_source_id", "run_id"),
         "matched_on": _fields(merge.get("matched_on")), "not_compared": _fields(merge.get("not_compared"))}
        for merge in _rows(found.get("merges"))
    ]
    groups = []
    for group in _rows(found.get("shared_email_groups")):
        apart = [
            {**_source_ids(pair, "source_id", "other_source_id", "note"), "differs_on": _fields(pair.get("differs_on"))}
            for pair in _rows(group.get("kept_apart"))
        ]
        persons = group.get("persons") if isinstance(group.get("persons"), list) else []
        groups.append({"persons": [str(person) for person in persons], "kept_apart": apart})
    review = [
        {**_source_ids(row, "source_id", "other_source_id", "note", "run_id"),
         "matched_on": _fields(row.get("matched_on")), "differs_on": _fields(row.get("differs_on"))}
        for row in _rows(found.get("review"))
    ]
    rule = _mapping(found.get("rule"))
    return {
        "available": dedupe_report is not None,
        "rule": _fields(rule.get("match_on")) if "match_on" in rule else "",
        "count": len(merges),
        "merges": merges,
        "kept_apart": sum(len(group["kept_apart"]) for group in groups),
        "shared_email_groups": groups,
        "review": review,
        "adopted": [row for row in adoptions if row["decision"] == "adopted"],
        "not_adopted": [row for row in adoptions if row["decision"] != "adopted"],
    }


def adoptions(state: Path, latest: dict | None) -> list[dict]:
    """Account persons each run adopted or not (summary-<run_id>.json; summary.json when there is none).

    Files that cannot be read are already input problems of the runs table."""
    rows = []
    summaries = [_quiet_json(path) for path in sorted(state.glob("summary-*.json"))] or [latest]
    for run_summary in summaries:
        for row in _rows((run_summary or {}).get("adoptions")):
            rows.append({**_source_ids(row, "decision", "source_id", "pipedrive_id", "note"),
                         "run_id": str((run_summary or {}).get("run_id") or ""),
                         "matched_on": _fields(row.get("matched_on")), "differs_on": _fields(row.get("differs_on"))})
    return rows


def _quiet_json(path: Path) -> dict | None:
    try:
        found = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError):
        return None
    return found if isinstance(found, dict) else None


SOURCE_CATEGORIES = ("exact", "degraded", "merged", "changed_in_pipedrive", "deleted_in_source", "not_landed_accepted",
                     "different", "not_landed")


def source_check(check: dict | None, problems: Problems) -> dict:
    """`meltano run reconcile`'s result: each PracticeHub record landed exactly, degraded, or not, and why."""
    if check is None:
        return {"available": False, "ok": False, "unexplained": 0, "streams": []}
    streams = []
    for stream, values in sorted(_mapping(check.get("streams")).items()):
        values = _mapping(values)
        entry = {"stream": str(stream), "records": count(values.get("records"), f"reconcile.json {stream}.records",
                                                          problems)}
        for key in SOURCE_CATEGORIES:
            entry[key] = count(values.get(key, 0), f"reconcile.json {stream}.{key}", problems)
        entry["not_landed_reasons"] = {str(k): count(v, f"reconcile.json {stream} reason", problems)
                                       for k, v in _mapping(values.get("not_landed_reasons")).items()}
        entry["balanced"] = entry["records"] == sum(entry[key] for key in SOURCE_CATEGORIES)
        if not entry["balanced"]:
            problems.add("reconcile.json", f"{stream}: the categories do not add up to {entry['records']} records")
        streams.append(entry)
    unexplained = count(check.get("unexplained", 0), "reconcile.json unexplained", problems)
    return {"available": True, "ok": bool(check.get("ok")) and unexplained == 0, "unexplained": unexplained,
            "streams": streams, "difference_fields": {str(k): count(v, "reconcile.json difference_fields", problems)
                                                      for k, v in _mapping(check.get("difference_fields")).items()}}


def degradations(rows: list[dict] | None) -> dict:
    """Every value that landed degraded, by stream, field, reason and action (the latest entry per record field)."""
    if rows is None:
        return {"available": False, "total": 0, "by_field": []}
    latest = {(str(r.get("source_id")), str(r.get("field"))): r for r in rows if isinstance(r, dict)}
    counts: Counter = Counter((str(r.get("source_stream")), str(r.get("field")), str(r.get("reason")),
                               str(r.get("action"))) for r in latest.values())
    by_field = [{"stream": s, "field": f, "reason": reason, "action": action, "count": n}
                for (s, f, reason, action), n in sorted(counts.items())]
    return {"available": True, "total": len(latest), "by_field": by_field}


def phi_left_out(phi_report: dict | None, load_summary: dict | None, problems: Problems) -> dict:
    """Every PHI field and stream the mapper left out (names and counts only), and what the target's own check
    kept out. `phi.json` is absent for mappers older than the PHI report: then the section says so."""
    fields = []
    for item in (phi_report or {}).get("left_out") or []:
        if not isinstance(item, dict):
            continue
        unit = "records" if "records" in item else "values"
        fields.append({"mark": str(item.get("mark") or ""), "label": str(item.get("label") or ""),
                       "why": str(item.get("why") or ""), "unit": unit,
                       "count": count(item.get(unit), f"phi.json {item.get('mark')}.{unit}", problems),
                       "at_run_time": bool(item.get("left_out_at_run_time"))})
    masked = [{"stream": str(m.get("stream") or ""), "field": str(m.get("field") or ""),
               "count": count(m.get("count"), "phi.json masked.count", problems)}
              for m in (phi_report or {}).get("masked") or [] if isinstance(m, dict)]
    guard = _mapping((load_summary or {}).get("phi_guard"))
    return {
        "available": phi_report is not None,
        "policy": str((phi_report or {}).get("policy") or ""),
        "minimum_necessary": [str(m) for m in (phi_report or {}).get("minimum_necessary") or []],
        "carried": [str(m) for m in (phi_report or {}).get("carried") or []],
        "confirmed_not_phi": [str(m) for m in (phi_report or {}).get("confirmed_not_phi") or []],
        "left_out": fields,
        "masked": masked,
        "target_stripped": {str(k): count(v, f"summary.json phi_guard.{k}", problems)
                            for k, v in _mapping(guard.get("values_stripped")).items()},
        "target_refused": {str(k): count(v, f"summary.json phi_guard.{k}", problems)
                           for k, v in _mapping(guard.get("records_refused")).items()},
    }


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


def verify_summary(
    verify_report: dict | None, diff_rows: list[tuple[str, str, str]] | None, problems: Problems
) -> dict:
    if verify_report is None:
        return {"available": False, "entities": [], "mismatches": [], "total_mismatches": 0}
    per_field = Counter((entity, field) for entity, field, _ in diff_rows or [])
    records = {
        entity: len({sid for e, _, sid in diff_rows or [] if e == entity}) for entity, _, _ in diff_rows or []
    }
    checked = _mapping(verify_report.get("checked"))
    entities = [
        {
            "entity": str(entity),
            "checked": count(n, f"verify_summary.json checked.{entity}", problems),
            "mismatched_records": records.get(str(entity), 0),
        }
        for entity, n in sorted(checked.items())
    ]
    mismatches = [
        {"entity": entity, "field": field, "count": n} for (entity, field), n in sorted(per_field.items())
    ]
    total = count(verify_report.get("mismatches"), "verify_summary.json mismatches", problems)
    if diff_rows is None and total:
        problems.add("verify_diff.csv", "not found: mismatches cannot be broken down by field")
    elif diff_rows is not None and total != len(diff_rows):
        problems.add("verify_diff.csv", f"{len(diff_rows)} rows, but verify_summary.json counts {total}")
    return {
        "available": True,
        "ok": total == 0,
        "entities": entities,
        "mismatches": mismatches,
        "total_mismatches": total,
        "changed_in_pipedrive": count(verify_report.get("changed_in_pipedrive", 0),
                                      "verify_summary.json changed_in_pipedrive", problems),
        "changed_in_pipedrive_fields": [str(f) for f in verify_report.get("changed_in_pipedrive_fields") or []],
    }


def cutover(load_summary: dict | None) -> dict:
    """The latest run's conflicts (fields both sides changed) and records deleted in PracticeHub after landing:
    names, ids and what was done, never values."""
    summary = load_summary or {}
    deletions = _mapping(summary.get("source_deletions"))
    conflicts = [{key: str(c.get(key) or "") for key in ("entity", "source_id", "field", "resolution")}
                 for c in _rows(summary.get("conflicts"))]
    records = [{"source_id": str(r.get("source_id") or ""), "how": str(r.get("how") or ""),
                "in_pipedrive": ", ".join(f"{stream} {', '.join(str(i) for i in ids)}"
                                          for stream, ids in _mapping(r.get("in_pipedrive")).items()),
                "action": str(r.get("action") or ""), "detail": str(r.get("detail") or "")}
               for r in _rows(deletions.get("records"))]
    return {"conflicts": conflicts, "source_deletions": records,
            "on_source_delete": str(deletions.get("policy") or "report")}


def link(target: Path, out: Path, problems: Problems) -> str | None:
    if not target.is_file():
        problems.add(target.name, "not found (no link)")
        return None
    return Path(os.path.relpath(target.resolve(), out.resolve())).as_posix()


# --- the summary and the files ----------------------------------------------------------------------


def summarise(inputs: ReportInputs) -> dict:
    """Every number the page shows, from the inputs only."""
    problems = Problems()
    state, mapper = Path(inputs.state_dir), Path(inputs.transform_reports)
    reconciliation = read_json(mapper / "reconciliation.json", problems)
    load_summary = read_json(state / "summary.json", problems)
    api = _mapping((load_summary or {}).get("api"))
    if load_summary and load_summary.get("elapsed_seconds") is not None:
        api = {**api, "elapsed_seconds": load_summary["elapsed_seconds"]}
    all_skip_rows = read_json_lines(state / "skipped.jsonl", problems)
    skip_rows = this_run(all_skip_rows, (load_summary or {}).get("run_id"))
    metric_rows = (
        read_json_lines(state / "metrics.jsonl", problems) if (state / "metrics.jsonl").is_file() else None
    )
    workflows = read_json(mapper / "workflows.json", problems)
    phi_path = mapper / "phi.json"  # written by the mapper since it reports PHI left out
    phi_report = read_json(phi_path, problems) if phi_path.is_file() else None
    verify_path = state / "verify_summary.json"  # absent until `target-pipedrive verify` has run
    verify_report = read_json(verify_path, problems) if verify_path.is_file() else None
    check_path = state / "reconcile.json"  # absent until `meltano run reconcile` has run
    degraded_path = state / "degraded.jsonl"  # absent when no value was degraded

    source_rows = source_reconciliation(reconciliation, problems)
    load_rows = load_reconciliation(load_summary, problems)
    all_degraded_rows = read_json_lines(degraded_path, problems) if degraded_path.is_file() else []
    handover_rows = handover_reconciliation(reconciliation, load_rows, skip_rows, problems,
                                            this_run(all_degraded_rows, (load_summary or {}).get("run_id")))
    speed = throughput(metric_rows, api, problems)
    if speed["per_second"]:  # the per-second file must add up to the run's totals
        for key in ("calls", "status_429", "tokens"):
            if api.get(key) is not None and api.get(key) != speed[key]:
                problems.add(
                    "metrics.jsonl", f"{key} add up to {speed[key]}, summary.json api.{key} says {api[key]}"
                )
    tokens_used = speed["tokens"]
    complete = reconciliation is not None and load_summary is not None and skip_rows is not None
    all_rows = source_rows + load_rows + handover_rows
    totals = {
        "records_in": sum(row["in"] for row in source_rows),
        "landed": sum(row["landed"] for row in load_rows),
        "created": sum(row["created"] for row in load_rows),
        "updated": sum(row["updated"] for row in load_rows),
        "unchanged": sum(row["unchanged"] for row in load_rows),
        "merged": sum(row["merged"] for row in source_rows),
        "skipped_by_mapper": sum(row["skipped"] for row in source_rows),
        "skipped_by_target": sum(row["skipped"] for row in load_rows),
        "kept_aside": sum(row["kept_aside"] for row in source_rows),
        "failed": sum(row["failed"] + row["waiting"] for row in load_rows),
    }
    records = {row["stream"]: {key: row[key] for key in LOAD_OUTCOMES} for row in load_rows}
    runs = run_history(state, str((load_summary or {}).get("run_id") or ""), problems)
    progress_path = state / "rollback_progress.jsonl"  # absent until a rollback has run
    migration = report_history.migration_totals(
        report_history.read_ledger(state / "ledger.sqlite", problems),
        read_json_lines(state / "manifest.jsonl", problems),
        read_json_lines(progress_path, problems) if progress_path.is_file() else None,
        all_skip_rows,
        problems,
    )
    links = {
        "workflows": link(mapper / "workflows.md", inputs.out, problems),
        "field_map": link(state / "field_map.json", inputs.out, problems),
        "dedupe_csv": link(mapper / "dedupe.csv", inputs.out, problems),
        "json_summary": JSON_NAME,
    }
    return {
        "schema_version": SCHEMA_VERSION,
        "generated_at": inputs.generated_at or datetime.now(UTC).replace(microsecond=0).isoformat(),
        "run": {
            "run_id": str((load_summary or {}).get("run_id") or ""),
            "status": str((load_summary or {}).get("status") or "unknown"),
            "message": str((load_summary or {}).get("message") or ""),
        },
        "reconciled": complete and bool(source_rows) and all(row["balanced"] for row in all_rows),
        "migration": migration,
        "runs": runs,
        "totals": totals,
        "records": records,
        "source_reconciliation": source_rows,
        "handover_reconciliation": handover_rows,
        "load_reconciliation": load_rows,
        "throughput": speed,
        "budget": budget(api, tokens_used, problems),
        "estimate": token_estimate(_mapping((load_summary or {}).get("budget_plan"))),
        "unmatched_practitioners": unmatched_practitioners(load_summary, problems),
        "dedupe": dedupe(read_json(mapper / "dedupe.json", problems), adoptions(state, load_summary)),
        "phi": phi_left_out(phi_report, load_summary, problems),
        "skips": skips_summary(skip_rows),
        "source_check": source_check(read_json(check_path, problems) if check_path.is_file() else None, problems),
        "degraded": degradations(all_degraded_rows),
        "verify": verify_summary(
            verify_report, read_diff_rows(state / "verify_diff.csv", problems), problems
        ),
        "cutover": cutover(load_summary),
        "workflows": _mapping((workflows or {}).get("summary")),
        "links": links,
        "input_problems": list(problems),
    }


def build_report(inputs: ReportInputs) -> tuple[Path, Path]:
    """Write migration_report.html and migration_report.json into inputs.out; return both paths."""
    out = Path(inputs.out)
    out.mkdir(parents=True, exist_ok=True)
    summary = summarise(
        ReportInputs(Path(inputs.state_dir), Path(inputs.transform_reports), out, inputs.generated_at)
    )
    html_path, json_path = out / HTML_NAME, out / JSON_NAME
    _write(json_path, json.dumps(summary, indent=2, ensure_ascii=False) + "\n")
    _write(html_path, page.render(summary))
    return html_path, json_path


def _write(path: Path, text: str) -> None:
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(text, "utf-8")
    os.replace(temporary, path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="target-pipedrive report", description="Write the HTML migration report and its JSON summary."
    )
    parser.add_argument("--state-dir", required=True, type=Path, help="the target's state directory")
    parser.add_argument("--transform-reports", required=True, type=Path, help="the mapper's reports_dir")
    parser.add_argument("--out", required=True, type=Path, help="where to write the report")
    args = parser.parse_args(argv)
    for folder in (args.state_dir, args.transform_reports):
        if not folder.is_dir():
            print(f"target-pipedrive report: {folder} does not exist yet; a migration run writes it"
                  " (`meltano run sample-migration` or `meltano run full-migration`)", file=sys.stderr)
            return 2
    html_path, json_path = build_report(ReportInputs(args.state_dir, args.transform_reports, args.out))
    summary = json.loads(json_path.read_text("utf-8"))
    verdict = (
        "reconciles" if summary["reconciled"] else "does NOT reconcile (see the red rows and input problems)"
    )
    print(f"wrote {html_path} and {json_path}: the migration {verdict}")
    for problem in summary["input_problems"]:
        print(f"input problem: {problem}", file=sys.stderr)
    return 0 if summary["reconciled"] else 1


if __name__ == "__main__":
    private_outputs()
    sys.exit(main())
