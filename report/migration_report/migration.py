"""The whole migration: what every run of a state folder put in Pipedrive, and is still there.

The ledger (read through `Ledger.read_landed`) holds one row per landed entity, whichever run wrote it last;
the manifest says which run created each entity; `rollback_progress.jsonl` says what a rollback undid;
the skip file lists every skip of every run. Only counts leave this module: no source ids, no values.
"""

from __future__ import annotations

from collections import Counter, defaultdict

from target_pipedrive.ledger import ORIGIN_PREEXISTING, LandedEntity

from migration_report.inputs import Problems

# What a rollback deletes entity by entity (rollback.ENTITY_ORDER); stages, pipelines and fields are not records.
ENTITY_STREAMS = ("files", "notes", "activities", "deals", "persons", "organizations")
COUNTS = ("created", "updated", "updated_after_create", "adopted", "in_pipedrive", "rolled_back", "skipped")


def migration_totals(
    ledger_rows: list[LandedEntity] | None,
    manifest_rows: list[dict] | None,
    progress_rows: list[dict] | None,
    skip_rows: list[dict] | None,
    problems: Problems,
) -> dict:
    """Per stream: entities created and still live, updated at least once, undone by rollback, never landed."""
    if ledger_rows is None:
        return {"available": False, "streams": [], "totals": dict.fromkeys(COUNTS, 0)}
    created_in = {  # (stream, pipedrive id) → the run whose create the manifest recorded
        (str(entry.get("type")), str(entry.get("id"))): str(entry.get("run_id") or "")
        for entry in manifest_rows or []
        if entry.get("op") == "create"
    }
    undone = {(str(p.get("action")), str(p.get("type")), str(p.get("id"))) for p in progress_rows or []}
    restored = {(kind, ident) for action, kind, ident in undone if action == "restore"}
    counts: dict[str, Counter] = defaultdict(Counter)
    without_create_line = 0
    for entity in ledger_rows:
        key = (str(entity.stream), str(entity.pipedrive_id))
        if entity.origin == ORIGIN_PREEXISTING:
            # Adopting a record is an update; once a rollback restored its prior values it no longer counts.
            counts[key[0]]["rolled_back" if key in restored else "adopted"] += 1
            continue
        counts[key[0]]["created"] += 1
        made_in = created_in.get(key)
        if made_in is None:
            without_create_line += 1
        elif made_in != entity.run_id:  # the ledger keeps the last run that wrote the entity
            counts[key[0]]["updated_after_create"] += 1
    for action, kind, _ident in undone:
        if action == "delete" and kind in ENTITY_STREAMS:
            counts[kind]["rolled_back"] += 1
    for stream, number in never_landed(ledger_rows, skip_rows).items():
        counts[stream]["skipped"] = number
    if without_create_line:
        problems.add(
            "manifest.jsonl",
            f"no create line for {without_create_line} entities the ledger holds: counted as created, not as updated",
        )
    streams = [_stream_row(stream, counts[stream]) for stream in sorted(counts)]
    totals = {key: sum(row[key] for row in streams) for key in COUNTS}
    return {"available": True, "streams": streams, "totals": totals}


def never_landed(ledger_rows: list[LandedEntity], skip_rows: list[dict] | None) -> Counter:
    """Distinct source ids per skipped stream, across runs, that no run landed since.

    A mapper skip names its PracticeHub stream and a target skip its Pipedrive object, so a source id is
    matched against every stream of the ledger. An entry without a source id cannot be told apart from
    another: each counts.
    """
    landed = {str(entity.source_id) for entity in ledger_rows}
    seen: set[tuple[str, str]] = set()
    skipped: Counter = Counter()
    for row in skip_rows or []:
        stream = str(row.get("entity") or row.get("source_stream") or "unknown")
        source_id = row.get("source_id")
        if source_id in (None, ""):
            skipped[stream] += 1
            continue
        if str(source_id) in landed or (stream, str(source_id)) in seen:
            continue
        seen.add((stream, str(source_id)))
        skipped[stream] += 1
    return skipped


def _stream_row(stream: str, counts: Counter) -> dict:
    return {
        "stream": stream,
        "created": counts["created"],
        "updated": counts["updated_after_create"] + counts["adopted"],
        "updated_after_create": counts["updated_after_create"],
        "adopted": counts["adopted"],
        "in_pipedrive": counts["created"] + counts["adopted"],
        "rolled_back": counts["rolled_back"],
        "skipped": counts["skipped"],
    }
