"""What a finished migration must satisfy: no duplicates, nothing lost, ledger and manifest agree."""

from __future__ import annotations

import json
import sqlite3
from collections import Counter
from pathlib import Path

from tests.reliability.pipeline import Workspace

ENTITIES = ("organizations", "persons", "deals", "activities", "notes", "files")
WITH_CUSTOM_FIELDS = ("organizations", "persons", "deals")
WRITE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}


def live(snapshot: dict, entity: str) -> list[dict]:
    return [r for r in snapshot.get(entity, []) if not r.get("is_deleted") and r.get("active_flag", True) is not False]


def ledger_rows(state_dir: Path) -> list[dict]:
    path = state_dir / "ledger.sqlite"
    if not path.exists():
        return []
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        rows = db.execute("SELECT stream, source_id, pipedrive_id, status, origin FROM entities").fetchall()
    finally:
        db.close()
    return [dict(zip(("stream", "source_id", "pipedrive_id", "status", "origin"), row, strict=True)) for row in rows]


def jsonl(path: Path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def landed(state_dir: Path) -> set[tuple[str, str]]:
    return {(r["stream"], r["source_id"]) for r in ledger_rows(state_dir) if r["status"] == "done"}


def skipped(state_dir: Path) -> dict[tuple[str, str], str]:
    """Skip-file entries not landed later (a missing parent in one run may land in the next), with reasons."""
    done = landed(state_dir)
    return {(e["entity"], str(e["source_id"])): e["reason"] for e in jsonl(state_dir / "skipped.jsonl")
            if (e["entity"], str(e["source_id"])) not in done}


def accounted(state_dir: Path) -> set[tuple[str, str]]:
    """Every source record the target saw, landed or skipped (merged patients are folded by the mapper)."""
    return landed(state_dir) | set(skipped(state_dir))


def source_id_keys(state_dir: Path) -> dict[str, str]:
    """entity -> the Pipedrive key of its practicehub_id custom field (from the target's field map)."""
    rows = json.loads((state_dir / "field_map.json").read_text(encoding="utf-8"))
    return {r["entity"]: r["key"] for r in rows if r["logical_name"] == "practicehub_id" and r.get("key")}


def duplicates(ws: Workspace, before: dict, after: dict) -> dict[str, list]:
    """Source IDs held by more than one live record, and entities with more new records than the ledger."""
    problems: dict[str, list] = {}
    keys = source_id_keys(ws.target_state_dir)
    for entity in WITH_CUSTOM_FIELDS:
        key = keys.get(entity)
        if key is None:
            continue
        counts = Counter((r.get("custom_fields") or {}).get(key) for r in live(after, entity))
        repeated = sorted(str(sid) for sid, n in counts.items() if sid and n > 1)
        if repeated:
            problems[entity] = repeated
    created = Counter(r["stream"] for r in ledger_rows(ws.target_state_dir)
                      if r["status"] == "done" and r["origin"] == "created")
    for entity in ENTITIES:
        new = {r["id"] for r in live(after, entity)} - {r["id"] for r in before.get(entity, [])}
        if len(new) != created[entity]:
            problems.setdefault(entity, []).append(f"{len(new)} new records, {created[entity]} created in ledger")
    return problems


def ledger_manifest_gaps(state_dir: Path) -> list[str]:
    """Each created or adopted ledger row must have its manifest line (what rollback undoes)."""
    manifest = {(e["type"], e.get("id")) for e in jsonl(state_dir / "manifest.jsonl") if e["op"] in ("create", "update")}
    return [f"{r['stream']} {r['source_id']} -> {r['pipedrive_id']}" for r in ledger_rows(state_dir)
            if r["status"] == "done" and (r["stream"], r["pipedrive_id"]) not in manifest]


def pending_rows(state_dir: Path) -> list[str]:
    return [f"{r['stream']} {r['source_id']}" for r in ledger_rows(state_dir) if r["status"] != "done"]


def api_writes(log: list[dict]) -> list[str]:
    return [f"{e['method']} {e['path']}" for e in log if e["method"] in WRITE_METHODS and "/_sandbox" not in e["path"]]


def assert_complete(ws: Workspace, before: dict, expected: set[tuple[str, str]]) -> dict:
    """The end state every resumed, faulted or crashed migration must reach. Returns the final snapshot."""
    after = ws.pipedrive.snapshot()
    assert duplicates(ws, before, after) == {}
    got = accounted(ws.target_state_dir)
    missing, extra = sorted(expected - got), sorted(got - expected)
    assert missing == [], f"source records neither landed nor skipped: {missing}"
    assert extra == [], f"records the clean run does not have: {extra}"
    assert pending_rows(ws.target_state_dir) == []
    assert ledger_manifest_gaps(ws.target_state_dir) == []
    verify = ws.target_command("verify")
    assert verify.returncode == 0 and " 0 field differences" in verify.stderr, verify.stderr[-2000:]
    return after
