"""Verify against the source: PracticeHub re-read through the mapping, compared with what Pipedrive holds now.

A value the migration (or anyone) lost or changed, and a record that never landed, are differences; values
the mapper degraded on purpose are listed as degraded, not counted as differences.
"""

from __future__ import annotations

import csv
import json
import sqlite3
import time

import pytest

from tests.reliability.checks import jsonl
from tests.reliability.conftest import start_pipedrive, start_practicehub

pytestmark = pytest.mark.slow


def migrated_id(workspace, stream: str) -> int:
    """The Pipedrive id of one landed record of `stream` that has an email (persons) or any (others)."""
    with sqlite3.connect(workspace.target_state_dir / "ledger.sqlite") as db:
        rows = db.execute("SELECT pipedrive_id, sent FROM entities WHERE stream=? AND status='done' ORDER BY 1",
                          (stream,)).fetchall()
    return next(pid for pid, sent in rows if stream != "persons" or json.loads(sent or "{}").get("emails"))


def ledger_ids(workspace, stream: str) -> set[int]:
    with sqlite3.connect(workspace.target_state_dir / "ledger.sqlite") as db:
        return {pid for (pid,) in db.execute("SELECT pipedrive_id FROM entities WHERE stream=? AND status='done'",
                                             (stream,))}


@pytest.fixture
def migrated(tmp_path, workspace_factory):
    practicehub = start_practicehub("tiny")
    pipedrive = start_pipedrive(tmp_path / "pipedrive.sqlite3")
    try:
        patient = min(practicehub.dataset["patients"], key=lambda row: row["id"])
        practicehub.patch_record("patients", patient["id"], {"email": "front desk (no email)\x00"})
        workspace = workspace_factory(practicehub, pipedrive)
        result = workspace.run()
        assert result.ok, result.describe()
        yield workspace, practicehub, pipedrive, patient["id"]
    finally:
        practicehub.stop()
        pipedrive.stop()


def test_a_clean_migration_reconciles_and_lists_what_was_degraded(migrated):
    workspace, _, pipedrive, patient_id = migrated
    logged = len(pipedrive.requests_log())
    result, summary = workspace.source_check()
    assert result.returncodes["target"] == 0, result.describe()
    assert summary["ok"] and summary["unexplained"] == 0
    assert summary["deleted_in_source"] == []  # every landed record was read again: none taken for deleted
    patients = summary["streams"]["patients"]
    assert patients["degraded"] >= 1 and patients["different"] == patients["not_landed"] == 0
    assert "patients.email: invalid_email" in patients["degraded_fields"]
    assert "front desk" not in (workspace.target_state_dir / "reconcile.json").read_text()
    assert sum(row["exact"] for row in summary["streams"].values()) > 50
    assert {entry["method"] for entry in pipedrive.requests_log(since=logged)} == {"GET"}  # a check never writes
    assert not workspace.state_file.with_name("state.saved.json").exists()


def test_a_value_lost_or_a_record_removed_in_pipedrive_is_a_difference_a_team_edit_is_not(migrated):
    workspace, _, pipedrive, _ = migrated
    person_id, deal_id = (migrated_id(workspace, stream) for stream in ("persons", "deals"))
    person = pipedrive.get(f"/api/v2/persons/{person_id}").json()["data"]
    # Lost on the way: another value, in a record nobody changed since it landed (its update_time as it was).
    pipedrive.change_record("persons", person_id, update_time=person["update_time"], emails=[
        {"value": "someone.else@example.com", "primary": True, "label": "work"}])
    assert pipedrive.request("DELETE", f"/api/v2/deals/{deal_id}").ok
    time.sleep(1.1)  # Pipedrive's times are to the second: the team's edit comes after the landing's second
    renamed = next(d for d in pipedrive.get("/api/v2/deals", params={"limit": 500}).json()["data"]
                   if d["id"] != deal_id and d["id"] in ledger_ids(workspace, "deals"))
    assert pipedrive.request("PATCH", f"/api/v2/deals/{renamed['id']}", json={"title": "Renamed by the team"}).ok
    result, summary = workspace.source_check()
    assert result.returncodes["target"] == 1
    assert not summary["ok"] and summary["unexplained"] == 2
    assert summary["difference_fields"].get("persons.emails") == 1
    assert summary["streams"]["appointments"]["not_landed"] == 1
    assert "deleted in Pipedrive" in summary["streams"]["appointments"]["not_landed_reasons"]
    assert summary["streams"]["appointments"]["changed_in_pipedrive"] == 1  # the rename: listed, not a failure
    with open(workspace.target_state_dir / "reconcile_differences.csv", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert {(r["entity"], r["field"]) for r in rows if r["reason"] == "changed in Pipedrive after landing"} == {
        ("deals", "title")}
    differences = (workspace.target_state_dir / "reconcile_differences.csv")
    assert oct(differences.stat().st_mode & 0o777) == "0o600"


def test_records_deleted_in_practicehub_after_landing_are_listed_not_failures(migrated):
    workspace, practicehub, _, _ = migrated
    patients = sorted(practicehub.dataset["patients"], key=lambda row: row["id"])
    marked, gone = patients[5], patients[6]
    practicehub.patch_record("patients", marked["id"], {"deleted": 1})
    practicehub.delete_record("patients", gone["id"])  # deleted outright: only a full re-read notices
    result, summary = workspace.source_check()
    assert result.returncodes["target"] == 0, result.describe()
    assert summary["ok"] and summary["streams"]["patients"]["deleted_in_source"] == 2
    rows = {row["source_id"]: row for row in summary["deleted_in_source"]}
    assert rows[f"patients:{marked['id']}"]["how"] == "marked_deleted"
    assert rows[f"patients:{gone['id']}"]["how"] == "gone_from_api"
    assert rows[f"patients:{gone['id']}"]["in_pipedrive"]["persons"]  # what it has there, by id
    noticed = jsonl(workspace.target_state_dir / "source_deletions.jsonl")
    assert [(e["source_id"], e["action"]) for e in noticed] == [(f"patients:{gone['id']}", "noticed")]
    again, _ = workspace.source_check()  # noticed once, not once per pass
    assert again.returncodes["target"] == 0 and len(jsonl(workspace.target_state_dir / "source_deletions.jsonl")) == 1


def test_a_record_that_never_landed_is_a_difference(migrated):
    workspace, practicehub, _, _ = migrated
    practicehub.create_record("patients", {"first_name": "Nova", "last_name": "Late", "email": "nova@example.com"})
    result, summary = workspace.source_check()
    assert result.returncodes["target"] == 1
    reasons = summary["streams"]["patients"]["not_landed_reasons"]
    assert reasons.get("never loaded (new since the last run?)") == 1


def test_many_records_absent_at_once_are_differences_not_deletions(migrated):
    """A re-read that misses a good part of a stream (a changed start_date, say) is not the practice deleting."""
    workspace, practicehub, _, _ = migrated
    for patient in sorted(practicehub.dataset["patients"], key=lambda row: row["id"])[:8]:
        practicehub.delete_record("patients", patient["id"])
    result, summary = workspace.source_check()
    assert result.returncodes["target"] == 1
    assert summary["deleted_in_source"] == [] and summary["streams"]["patients"]["different"] >= 8
    assert not (workspace.target_state_dir / "source_deletions.jsonl").read_text().strip()
