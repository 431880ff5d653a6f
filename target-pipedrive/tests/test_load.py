"""A fixture migration lands in the sandbox exactly as sent; re-runs and deltas write only what changed."""

from __future__ import annotations

import copy
import hashlib
import json

from target_pipedrive.run_lock import RunLock
from testkit.target_run import ADMIN_EMAIL, by_custom, live


def _field_keys(harness) -> dict[tuple[str, str], dict]:
    rows = json.loads((harness.state_dir / "field_map.json").read_text())
    return {(row["entity"], row["logical_name"]): row for row in rows}


def test_fixture_migration_lands_in_dependency_order(harness):
    data = harness.practice()
    result = harness.run(data)
    assert result.returncode == 0, result.stderr[-2000:]
    summary = result.summary
    assert summary["status"] == "completed" and summary["reconciles"]
    for stream, records in data.items():
        if stream != "skipped":
            assert summary["streams"][stream]["created"] == len(records), stream
    assert summary["transform_skipped"] == 1
    assert summary["api"]["daily_token_limit"] == 30_000 * 5 * 3
    metrics = [json.loads(line) for line in (harness.state_dir / "metrics.jsonl").read_text().splitlines()]
    assert sum(m["calls"] for m in metrics) == summary["api"]["calls"] > 0
    assert sum(m["tokens"] for m in metrics) == summary["api"]["tokens"]

    keys = _field_keys(harness)
    assert {row["status"] for row in keys.values()} == {"created"}
    assert all(len(row["key"]) == 40 for row in keys.values())
    snap = harness.sandbox.snapshot()

    orgs = by_custom(live(snap, "organizations"), keys[("organizations", "practicehub_id")]["key"])
    persons = by_custom(live(snap, "persons"), keys[("persons", "practicehub_id")]["key"])
    deals = by_custom(live(snap, "deals"), keys[("deals", "practicehub_id")]["key"])
    person = persons["patients:101"]
    assert person["name"] == "Patient 1"
    assert person["org_id"] == orgs["businesses:2"]["id"]
    assert person["emails"][0]["value"] == "patient1@mail.example"
    custom = person["custom_fields"]
    status = keys[("persons", "patient_status")]
    assert custom[status["key"]] == json.loads(status["options"])["Active"]
    assert custom[keys[("persons", "date_of_birth")]["key"]] == data["persons"][0]["custom_fields"]["date_of_birth"]
    tags = keys[("persons", "tags")]
    assert sorted(custom[tags["key"]]) == [json.loads(tags["options"])["VIP"]]
    assert custom[keys[("persons", "mrn")]["key"]] == "MRN-00001"

    pipeline = next(p for p in snap["pipelines"] if p["name"] == "Treatment plans")
    stages = {s["name"]: s for s in snap["stages"] if s["pipeline_id"] == pipeline["id"]}
    assert list(stages) == ["Assessment", "Treatment", "Review"] or set(stages) == {"Assessment", "Treatment", "Review"}
    deal = deals["treatment_plans:2"]
    assert deal["stage_id"] == stages["Review"]["id"] and deal["pipeline_id"] == pipeline["id"]
    assert deal["status"] == "lost" and deal["lost_reason"] == "Declined"
    assert deal["person_id"] == persons["patients:102"]["id"]
    assert deal["value"] == 200

    created_notes = [n for n in live(snap, "notes") if "Treatment note" in n["content"]]
    assert len(created_notes) == 3
    note1 = next(n for n in created_notes if "note 1" in n["content"])
    assert note1["add_time"].startswith("2023-05-01") and note1["person_id"] == persons["patients:101"]["id"]
    assert sum(1 for f in live(snap, "files") if f["name"].startswith("scan-")) == 2
    activities = [a for a in live(snap, "activities") if a["subject"].startswith("Appointment")]
    assert len(activities) == 3
    assert {a["deal_id"] for a in activities} == {deals[f"treatment_plans:{i}"]["id"] for i in (1, 2, 3)}

    field_map_csv = (harness.state_dir / "field_map.csv").read_text().splitlines()
    assert field_map_csv[0].startswith("entity,logical_name,label,key,field_type,status")
    assert len(field_map_csv) == 1 + len(keys)


def test_rerun_makes_no_writes_and_delta_writes_only_changes(harness):
    data = harness.practice()
    assert harness.run(data).returncode == 0
    mark = harness.log_mark()
    second = harness.run(data, run_id="run-2")
    assert second.returncode == 0
    assert harness.writes(mark) == []
    assert second.summary["totals"]["unchanged"] == second.summary["totals"]["received"] == 20

    changed = copy.deepcopy(data)
    changed["persons"][2]["custom_fields"]["mrn"] = "MRN-CHANGED"
    changed["deals"][0]["value"] = 999.0
    mark = harness.log_mark()
    third = harness.run(changed, run_id="run-3")
    writes = harness.writes(mark)
    assert third.returncode == 0
    assert [(w["method"], w["path"].split("/")[3]) for w in writes] == [("PATCH", "deals"), ("PATCH", "persons")] or \
        sorted((w["method"], w["path"].split("/")[3]) for w in writes) == [("PATCH", "deals"), ("PATCH", "persons")]
    assert third.summary["totals"]["updated"] == 2 and third.summary["totals"]["unchanged"] == 18
    mrn_key = _field_keys(harness)[("persons", "mrn")]["key"]
    persons = by_custom(live(harness.sandbox.snapshot(), "persons"), mrn_key)
    assert "MRN-CHANGED" in persons


def test_children_before_parents_wait_and_missing_parents_are_skipped(harness):
    data = harness.practice()
    data["notes"].append({**data["notes"][0], "source_id": "treatment_notes:99", "person_source_id": "patients:404"})
    # Children first: everything must wait for its parents, then land; the orphan is skipped.
    order = ["notes", "files", "activities", "deals", "persons", "organizations", "skipped"]
    result = harness.run(harness.input_file(data, order=order))
    assert result.returncode == 0, result.stderr[-2000:]
    streams = result.summary["streams"]
    assert streams["notes"] == {"received": 4, "created": 3, "updated": 0, "unchanged": 0, "skipped": 1, "waiting": 0}
    assert streams["activities"]["created"] == 3 and streams["files"]["created"] == 2
    skips = [json.loads(line) for line in (harness.state_dir / "skipped.jsonl").read_text().splitlines()]
    orphan = next(s for s in skips if s["source_id"] == "treatment_notes:99")
    assert orphan["reason"] == "missing_parent" and "patients:404" in orphan["detail"]
    assert {s["origin"] for s in skips} == {"target", "transform"}


def test_unmatched_owners_land_under_fallback_and_are_reported(harness):
    data = harness.practice()
    data["persons"][0].update(owner_email="gone@old-practice.test", owner_name="Dr Gone", owner_source_id="practitioners:7")
    data["deals"][1].update(owner_email=None, owner_name="Nobody", owner_source_id="practitioners:8")
    data["organizations"][0].update(owner_email="user2@sandbox-clinic.test")
    result = harness.run(data)
    assert result.returncode == 0
    unmatched = {(o["owner_email"], o["owner_source_id"]): o for o in result.summary["unmatched_owners"]}
    assert set(unmatched) == {("gone@old-practice.test", "practitioners:7"), (None, "practitioners:8")}
    assert unmatched[("gone@old-practice.test", "practitioners:7")]["owner_name"] == "Dr Gone"
    assert unmatched[("gone@old-practice.test", "practitioners:7")]["assigned_to"] == ADMIN_EMAIL
    snap = harness.sandbox.snapshot()
    users = {u["email"]: u["id"] for u in snap["users"]}
    key = _field_keys(harness)[("persons", "practicehub_id")]["key"]
    assert by_custom(live(snap, "persons"), key)["patients:101"]["owner_id"] == users[ADMIN_EMAIL]
    org_key = _field_keys(harness)[("organizations", "practicehub_id")]["key"]
    org = by_custom(live(snap, "organizations"), org_key)["businesses:1"]
    assert org["owner_id"] == users["user2@sandbox-clinic.test"]


def test_unknown_fallback_owner_stops_before_any_write(harness):
    mark = harness.log_mark()
    result = harness.run(harness.practice(), fallback_owner_email="nobody@nowhere.test")
    assert result.returncode == 2
    assert "fallback_owner_email" in result.stderr and "nobody@nowhere.test" in result.stderr
    assert harness.writes(mark) == []


def test_rejections_go_to_the_skip_file_and_counts_reconcile(harness):
    data = harness.practice()
    data["deals"][0]["status"] = "postponed"  # not open|won|lost: the input contract refuses it
    data["activities"][1]["type"] = "no_such_type"  # not an activity type of the account: Pipedrive answers 400
    data["files"][1]["sha256"] = "0" * 64
    data["deals"][2]["stage"] = "No such stage"
    result = harness.run(data)
    assert result.returncode == 0, result.stderr[-2000:]
    summary = result.summary
    assert summary["reconciles"]
    assert summary["streams"]["deals"]["skipped"] == 2 and summary["streams"]["deals"]["created"] == 2
    assert summary["streams"]["files"]["skipped"] == 1
    skips = {s["source_id"]: s for s in map(json.loads, (harness.state_dir / "skipped.jsonl").read_text().splitlines())}
    refused = skips["treatment_plans:1"]
    assert refused["reason"] == "contract_violation" and refused["entity"] == "deals"
    assert refused["problems"] == [{"property": "status", "reason": "not_allowed", "expected": "expected one of open,"
                                                                                               " won, lost"}]
    rejected = skips["appointments:2"]
    assert rejected["reason"] == "rejected" and rejected["pipedrive_error"] and rejected["entity"] == "activities"
    assert skips["attachments:2"]["reason"] == "sha256_mismatch"
    assert skips["treatment_plans:3"]["reason"] == "unknown_stage"
    # The activity of the rejected deal never finds its parent.
    assert skips["appointments:1"]["reason"] == "missing_parent"
    assert (harness.state_dir / "skipped.jsonl").stat().st_mode & 0o777 == 0o600


def test_an_empty_file_lands_once(harness, tmp_path):
    data = harness.practice()
    empty = tmp_path / "empty.txt"
    empty.write_bytes(b"")
    data["files"][0].update(local_path=str(empty), size=0, file_name="empty.txt",
                            sha256=hashlib.sha256(b"").hexdigest())
    result = harness.run(data)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.summary["streams"]["files"]["created"] == 2
    snap = harness.sandbox.snapshot()
    landed = [f for f in live(snap, "files") if f["name"] == "empty.txt"]
    assert len(landed) == 1 and landed[0]["file_size"] == 0
    again = harness.run(data, run_id="run-2")  # a re-run finds it (ledger) and uploads nothing twice
    assert again.returncode == 0 and again.summary["streams"]["files"]["created"] == 0


def test_a_second_load_beside_a_live_one_stops_before_any_write(harness):
    held = RunLock(harness.state_dir)  # a live load of the same migration
    mark = harness.log_mark()
    try:
        result = harness.run(harness.practice(), in_process=False)
    finally:
        held.release()
    assert result.returncode == 2, result.stderr[-2000:]
    assert "another load or rollback of this migration is running" in result.stderr
    assert harness.writes(mark) == []
    assert harness.run(harness.practice()).returncode == 0  # released: the next load runs
