"""Verify against the source: PracticeHub re-read through the mapping, compared with what Pipedrive holds now.

A value the migration (or anyone) lost or changed, and a record that never landed, are differences; values
the mapper degraded on purpose are listed as degraded, not counted as differences.
"""

from __future__ import annotations

import json
import sqlite3

import pytest

from tests.reliability.conftest import start_pipedrive, start_practicehub

pytestmark = pytest.mark.slow


def migrated_id(workspace, stream: str) -> int:
    """The Pipedrive id of one landed record of `stream` that has an email (persons) or any (others)."""
    with sqlite3.connect(workspace.target_state_dir / "ledger.sqlite") as db:
        rows = db.execute("SELECT pipedrive_id, sent FROM entities WHERE stream=? AND status='done' ORDER BY 1",
                          (stream,)).fetchall()
    return next(pid for pid, sent in rows if stream != "persons" or json.loads(sent or "{}").get("emails"))


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
    patients = summary["streams"]["patients"]
    assert patients["degraded"] >= 1 and patients["different"] == patients["not_landed"] == 0
    assert "patients.email: invalid_email" in patients["degraded_fields"]
    assert "front desk" not in (workspace.target_state_dir / "reconcile.json").read_text()
    assert sum(row["exact"] for row in summary["streams"].values()) > 50
    assert {entry["method"] for entry in pipedrive.requests_log(since=logged)} == {"GET"}  # a check never writes
    assert not workspace.state_file.with_name("state.saved.json").exists()


def test_a_value_changed_or_a_record_removed_in_pipedrive_is_a_difference(migrated):
    workspace, _, pipedrive, _ = migrated
    person_id, deal_id = (migrated_id(workspace, stream) for stream in ("persons", "deals"))
    assert pipedrive.request("PATCH", f"/api/v2/persons/{person_id}", json={"emails": [
        {"value": "someone.else@example.com", "primary": True, "label": "work"}]}).ok
    assert pipedrive.request("DELETE", f"/api/v2/deals/{deal_id}").ok
    result, summary = workspace.source_check()
    assert result.returncodes["target"] == 1
    assert not summary["ok"] and summary["unexplained"] >= 2
    assert summary["difference_fields"].get("persons.emails") == 1
    assert summary["streams"]["appointments"]["not_landed"] >= 1
    assert "deleted in Pipedrive" in summary["streams"]["appointments"]["not_landed_reasons"]
    differences = (workspace.target_state_dir / "reconcile_differences.csv")
    assert oct(differences.stat().st_mode & 0o777) == "0o600"


def test_a_record_that_never_landed_is_a_difference(migrated):
    workspace, practicehub, _, _ = migrated
    practicehub.create_record("patients", {"first_name": "Nova", "last_name": "Late", "email": "nova@example.com"})
    result, summary = workspace.source_check()
    assert result.returncodes["target"] == 1
    reasons = summary["streams"]["patients"]["not_landed_reasons"]
    assert reasons.get("never loaded (new since the last run?)") == 1
