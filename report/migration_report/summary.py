"""The summary: every number the page shows, worked out from the parsed inputs only (no files, no markup).

The result is the JSON summary (`migration_report.json`, REPORT.md lists its keys) and the page's only input.
The whole migration (every run, what is in Pipedrive now) comes first; the rest describes the latest run
(`summary.json`, which each run overwrites).
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

from migration_report.inputs import InputFiles, Problems
from migration_report.migration import migration_totals
from migration_report.values import count, field_names, mapping, objects, parse_time, texts

SCHEMA_VERSION = 1
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
SOURCE_CATEGORIES = ("exact", "degraded", "merged", "changed_in_pipedrive", "deleted_in_source", "not_landed_accepted",
                     "different", "not_landed")


def summarise(found: InputFiles, generated_at: str | None = None) -> dict:
    """Every number the page shows. `found.problems` gains what does not add up; it ends the summary."""
    problems = found.problems
    load_summary = found.load_summary
    api = mapping((load_summary or {}).get("api"))
    if load_summary and load_summary.get("elapsed_seconds") is not None:
        api = {**api, "elapsed_seconds": load_summary["elapsed_seconds"]}
    run_id = (load_summary or {}).get("run_id")
    skip_rows = this_run(found.skips, run_id)

    source_rows = source_reconciliation(found.reconciliation, problems)
    load_rows = load_reconciliation(load_summary, problems)
    handover_rows = handover_reconciliation(found.reconciliation, load_rows, skip_rows, problems,
                                            this_run(found.degraded, run_id))
    speed = throughput(found.metrics, api, problems)
    if speed["per_second"]:  # the per-second file must add up to the run's totals
        for key in ("calls", "status_429", "tokens"):
            if api.get(key) is not None and api.get(key) != speed[key]:
                problems.add(
                    "metrics.jsonl", f"{key} add up to {speed[key]}, summary.json api.{key} says {api[key]}"
                )
    complete = found.reconciliation is not None and load_summary is not None and skip_rows is not None
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
    runs = run_history(found.run_summaries, str(run_id or ""), problems)
    migration = migration_totals(found.ledger, found.manifest, found.rollback_progress, found.skips, problems)
    return {
        "schema_version": SCHEMA_VERSION,
        "generated_at": generated_at or datetime.now(UTC).replace(microsecond=0).isoformat(),
        "run": {
            "run_id": str(run_id or ""),
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
        "budget": budget(api, speed["tokens"], problems),
        "estimate": token_estimate(mapping((load_summary or {}).get("budget_plan"))),
        "unmatched_practitioners": unmatched_practitioners(load_summary, problems),
        "dedupe": dedupe(found.dedupe, adoptions(found.run_summaries, load_summary)),
        "phi": phi_left_out(found.phi, load_summary, problems),
        "skips": skips_summary(skip_rows),
        "source_check": source_check(found.source_check, problems),
        "degraded": degradations(found.degraded),
        "verify": verify_summary(found.verify, found.verify_differences, problems),
        "cutover": cutover(load_summary),
        "workflows": mapping((found.workflows or {}).get("summary")),
        "links": dict(found.links),
        "input_problems": list(problems),
    }


# --- reconciliation: source, hand-over, load ---------------------------------------------------------


def source_reconciliation(reconciliation: dict | None, problems: Problems) -> list[dict]:
    rows = []
    for stream, counts in sorted(mapping((reconciliation or {}).get("streams")).items()):
        counts = mapping(counts)
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
    for stream, counts in sorted(mapping((load_summary or {}).get("streams")).items()):
        counts = mapping(counts)
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
        for stream, value in mapping((reconciliation or {}).get("records_emitted")).items()
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


# --- the runs ----------------------------------------------------------------------------------------


def run_history(run_summaries: list[tuple[str, dict | None]], latest_run_id: str, problems: Problems) -> list[dict]:
    """Every run of this state folder, oldest first, from its `summary-<run_id>.json`; the latest is marked."""
    runs = []
    for name, run_summary in run_summaries:
        if run_summary is None:
            continue
        started = parse_time(run_summary.get("started_at"))
        if started is None:
            problems.add(name, "no usable started_at (listed first)")
        streams = load_reconciliation(run_summary, problems, name)
        api = mapping(run_summary.get("api"))
        row = {
            "run_id": str(run_summary.get("run_id") or name.removeprefix("summary-").removesuffix(".json")),
            "started_at": ""
            if started is None
            else datetime.fromtimestamp(int(started), UTC).strftime(ISO_UTC),
            "status": str(run_summary.get("status") or "unknown"),
            **{key: sum(stream[key] for stream in streams) for key in RUN_COUNTS},
            **{key: count(api.get(key), f"{name} api.{key}", problems) for key in RUN_API},
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


# --- skips -------------------------------------------------------------------------------------------


def skip_origin(row: dict) -> str:
    """`transform` for the mapper's skips, `target` for the target's own."""
    if row.get("origin") in ("transform", "target"):
        return row["origin"]
    return "transform" if "source_stream" in row else "target"  # a mapper record written as it came


def this_run(rows: list[dict] | None, run_id: object) -> list[dict] | None:
    """The skip and degradation files grow over runs: keep the entries of the run the summary describes."""
    if rows is None or not run_id:
        return rows
    return [row for row in rows if row.get("run_id") in (None, run_id)]


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


# --- API use -----------------------------------------------------------------------------------------


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


# --- owners, duplicates, PHI -------------------------------------------------------------------------


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


def dedupe(dedupe_report: dict | None, adoptions: list[dict]) -> dict:
    """The mapper's de-dup decisions for the whole migration and the target's adoptions: ids and field names."""
    found = dedupe_report or {}
    merges = [
        {**texts(merge, "survivor_source_id", "merged_source_id", "run_id"),
         "matched_on": field_names(merge.get("matched_on")), "not_compared": field_names(merge.get("not_compared"))}
        for merge in objects(found.get("merges"))
    ]
    groups = []
    for group in objects(found.get("shared_email_groups")):
        apart = [
            {**texts(pair, "source_id", "other_source_id", "note"), "differs_on": field_names(pair.get("differs_on"))}
            for pair in objects(group.get("kept_apart"))
        ]
        persons = group.get("persons") if isinstance(group.get("persons"), list) else []
        groups.append({"persons": [str(person) for person in persons], "kept_apart": apart})
    review = [
        {**texts(row, "source_id", "other_source_id", "note", "run_id"),
         "matched_on": field_names(row.get("matched_on")), "differs_on": field_names(row.get("differs_on"))}
        for row in objects(found.get("review"))
    ]
    rule = mapping(found.get("rule"))
    return {
        "available": dedupe_report is not None,
        "rule": field_names(rule.get("match_on")) if "match_on" in rule else "",
        "count": len(merges),
        "merges": merges,
        "kept_apart": sum(len(group["kept_apart"]) for group in groups),
        "shared_email_groups": groups,
        "review": review,
        "adopted": [row for row in adoptions if row["decision"] == "adopted"],
        "not_adopted": [row for row in adoptions if row["decision"] != "adopted"],
    }


def adoptions(run_summaries: list[tuple[str, dict | None]], latest: dict | None) -> list[dict]:
    """Account persons each run adopted or not (summary-<run_id>.json; summary.json when there is none).

    Files that cannot be read are already input problems of the runs table."""
    rows = []
    for run_summary in [content for _, content in run_summaries] or [latest]:
        for row in objects((run_summary or {}).get("adoptions")):
            rows.append({**texts(row, "decision", "source_id", "pipedrive_id", "note"),
                         "run_id": str((run_summary or {}).get("run_id") or ""),
                         "matched_on": field_names(row.get("matched_on")),
                         "differs_on": field_names(row.get("differs_on"))})
    return rows


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
    guard = mapping((load_summary or {}).get("phi_guard"))
    return {
        "available": phi_report is not None,
        "policy": str((phi_report or {}).get("policy") or ""),
        "minimum_necessary": [str(m) for m in (phi_report or {}).get("minimum_necessary") or []],
        "carried": [str(m) for m in (phi_report or {}).get("carried") or []],
        "confirmed_not_phi": [str(m) for m in (phi_report or {}).get("confirmed_not_phi") or []],
        "left_out": fields,
        "masked": masked,
        "target_stripped": {str(k): count(v, f"summary.json phi_guard.{k}", problems)
                            for k, v in mapping(guard.get("values_stripped")).items()},
        "target_refused": {str(k): count(v, f"summary.json phi_guard.{k}", problems)
                           for k, v in mapping(guard.get("records_refused")).items()},
    }


# --- checks against the source and against Pipedrive -------------------------------------------------


def source_check(check: dict | None, problems: Problems) -> dict:
    """`meltano run reconcile`'s result: each PracticeHub record landed exactly, degraded, or not, and why."""
    if check is None:
        return {"available": False, "ok": False, "unexplained": 0, "streams": []}
    streams = []
    for stream, values in sorted(mapping(check.get("streams")).items()):
        values = mapping(values)
        entry = {"stream": str(stream), "records": count(values.get("records"), f"reconcile.json {stream}.records",
                                                          problems)}
        for key in SOURCE_CATEGORIES:
            entry[key] = count(values.get(key, 0), f"reconcile.json {stream}.{key}", problems)
        entry["not_landed_reasons"] = {str(k): count(v, f"reconcile.json {stream} reason", problems)
                                       for k, v in mapping(values.get("not_landed_reasons")).items()}
        entry["balanced"] = entry["records"] == sum(entry[key] for key in SOURCE_CATEGORIES)
        if not entry["balanced"]:
            problems.add("reconcile.json", f"{stream}: the categories do not add up to {entry['records']} records")
        streams.append(entry)
    unexplained = count(check.get("unexplained", 0), "reconcile.json unexplained", problems)
    return {"available": True, "ok": bool(check.get("ok")) and unexplained == 0, "unexplained": unexplained,
            "streams": streams, "difference_fields": {str(k): count(v, "reconcile.json difference_fields", problems)
                                                      for k, v in mapping(check.get("difference_fields")).items()}}


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


def verify_summary(
    verify_report: dict | None, diff_rows: list[tuple[str, str, str]] | None, problems: Problems
) -> dict:
    if verify_report is None:
        return {"available": False, "entities": [], "mismatches": [], "total_mismatches": 0}
    per_field = Counter((entity, field) for entity, field, _ in diff_rows or [])
    records = {
        entity: len({sid for e, _, sid in diff_rows or [] if e == entity}) for entity, _, _ in diff_rows or []
    }
    checked = mapping(verify_report.get("checked"))
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
    deletions = mapping(summary.get("source_deletions"))
    conflicts = [{key: str(c.get(key) or "") for key in ("entity", "source_id", "field", "resolution")}
                 for c in objects(summary.get("conflicts"))]
    records = [{"source_id": str(r.get("source_id") or ""), "how": str(r.get("how") or ""),
                "in_pipedrive": ", ".join(f"{stream} {', '.join(str(i) for i in ids)}"
                                          for stream, ids in mapping(r.get("in_pipedrive")).items()),
                "action": str(r.get("action") or ""), "detail": str(r.get("detail") or "")}
               for r in objects(deletions.get("records"))]
    return {"conflicts": conflicts, "source_deletions": records,
            "on_source_delete": str(deletions.get("policy") or "report")}
