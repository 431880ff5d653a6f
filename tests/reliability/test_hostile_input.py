"""A practice full of hostile and odd records: each lands, is merged, or is skipped with its reason."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
from testkit import HOSTILE_PRACTICE

from tests.reliability.checks import duplicates, jsonl, landed

# Streams the mapper counts without loading (see map-practicehub-pipedrive/README.md, "Reference streams").
NOT_LOADED = {"patient_custom_fields", "users", "practitioners", "appointment_types", "payment_methods",
              "patient_logs", "workflows", "locations"}
MAPPER_BUCKETS = ("out", "skipped", "merged", "documented", "reference", "consumed", "not_sampled")


@pytest.fixture(scope="module")
def corpus() -> dict[str, list[dict]]:
    return json.loads(HOSTILE_PRACTICE.read_text(encoding="utf-8"))


def classify(corpus: dict, target_state: Path, mapper_reports: Path) -> dict[str, dict[str, str]]:
    """Each source record of a loaded stream -> landed / merged / skipped (with the reason)."""
    landed_ids = {source_id for _, source_id in landed(target_state)}
    skips = {str(e["source_id"]): e["reason"] for e in jsonl(target_state / "skipped.jsonl")}
    dedupe = json.loads((mapper_reports / "dedupe.json").read_text(encoding="utf-8"))
    merged = {merge["merged_source_id"] for merge in dedupe["merges"]}
    outcome: dict[str, dict[str, str]] = {}
    for stream, records in corpus.items():
        if stream in NOT_LOADED:
            continue
        for record in records:
            source_id = f"{stream}:{record['id']}"
            if source_id in landed_ids:
                outcome[source_id] = {"outcome": "landed"}
            elif source_id in merged:
                outcome[source_id] = {"outcome": "merged"}
            elif source_id in skips:
                outcome[source_id] = {"outcome": "skipped", "reason": skips[source_id]}
            else:
                outcome[source_id] = {"outcome": "lost"}
    return outcome


def test_hostile_records_land_merge_or_skip_with_a_reason(corpus, practicehub_sandbox_factory,
                                                           pipedrive_sandbox_factory, workspace_factory):
    practicehub = practicehub_sandbox_factory(copy.deepcopy(corpus))
    pipedrive = pipedrive_sandbox_factory(plan="premium", seats=3, fixture="empty", time_scale=50.0)
    ws = workspace_factory(practicehub, pipedrive)
    before = pipedrive.snapshot()

    result = ws.run()
    assert result.ok, result.describe()

    reconciliation = json.loads((ws.mapper_reports / "reconciliation.json").read_text(encoding="utf-8"))
    assert reconciliation["balanced"] is True
    for stream, records in corpus.items():
        counts = reconciliation["streams"][stream]
        assert counts["in"] == len(records), stream
        assert counts["in"] == sum(counts[bucket] for bucket in MAPPER_BUCKETS), stream

    outcome = classify(corpus, ws.target_state_dir, ws.mapper_reports)
    assert [sid for sid, o in outcome.items() if o["outcome"] == "lost"] == []
    by_kind = {kind: sum(1 for o in outcome.values() if o["outcome"] == kind) for kind in ("landed", "merged", "skipped")}
    loaded_in = sum(len(records) for stream, records in corpus.items() if stream not in NOT_LOADED)
    assert sum(by_kind.values()) == loaded_in >= 40
    assert by_kind["merged"] == sum(reconciliation["streams"][s]["merged"] for s in corpus)

    # Cases whose outcome the contract fixes.
    assert outcome["patients:1003"]["outcome"] == "merged"  # 1002 again: case, spaces and name order aside
    assert outcome["appointments:7002"] == {"outcome": "skipped", "reason": outcome["appointments:7002"].get("reason")}
    assert outcome["appointments:7003"] == {"outcome": "landed"}  # unknown status: lands, its status degraded
    degraded = {(e["source_id"], e["reason"]) for e in jsonl(ws.target_state_dir / "degraded.jsonl")}
    assert ("appointments:7003", "unknown_status") in degraded
    assert outcome["clinical_notes:8001"]["outcome"] == "skipped"  # orphan note

    for entry in jsonl(ws.target_state_dir / "skipped.jsonl"):
        assert entry["reason"], entry
    summary = json.loads((ws.target_state_dir / "summary.json").read_text(encoding="utf-8"))
    assert summary["reconciles"] is True and summary["totals"]["waiting"] == 0
    assert duplicates(ws, before, pipedrive.snapshot()) == {}
    verify = ws.target_command("verify")
    assert verify.returncode == 0, verify.stderr[-2000:]
    # Against the source: every hostile record landed exactly, landed degraded (listed), or cannot exist.
    checked, source = ws.source_check()
    assert checked.returncodes["target"] == 0, source
    assert source["unexplained"] == 0 and sum(row["degraded"] for row in source["streams"].values()) >= 5

    # Between runs: one patient is deleted outright, another flagged deleted; both had landed.
    practicehub.delete_record("patients", 1019)
    practicehub.patch_record("patients", 1020, {"deleted": 1})
    practicehub.patch_record("appointments", 7014, {"status": "arrived"})  # belongs to the deleted patient
    second = ws.run()
    assert second.ok, second.describe()
    summary = json.loads((ws.target_state_dir / "summary.json").read_text(encoding="utf-8"))
    assert summary["reconciles"] is True and summary["totals"]["received"] >= 1
    second_skips = {e["source_id"]: e["reason"] for e in jsonl(ws.target_state_dir / "skipped.jsonl")
                    if e["run_id"] == "run-2"}
    assert second_skips.get("patients:1020"), "the soft-deleted patient is skipped with its reason"
    assert duplicates(ws, before, pipedrive.snapshot()) == {}
    assert ("deals", "appointments:7014") in landed(ws.target_state_dir)
