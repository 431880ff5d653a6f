"""The cutover in real life, through the real pipeline (tap | mapper | target) and the target's commands.

Between the full run and the delta the practice marks a patient deleted in PracticeHub, and the team renames
a migrated deal and adds a note to a migrated person in Pipedrive. Nothing may change silently: the delta
lists the deletion with what it has in Pipedrive, keeps the rename, verify reports the rename as the team's
(not a failure), and rollback refuses to destroy the note until told to keep it or discard it.
"""

from __future__ import annotations

import json
import sqlite3
import time

import pytest
from testkit.pipedrive_fixtures import account_changes

from tests.reliability.checks import jsonl, live
from tests.reliability.conftest import start_pipedrive, start_practicehub

pytestmark = pytest.mark.slow
VOLATILE = {"update_time", "last_update_user_id"}


def landed(workspace, stream: str) -> dict[str, dict]:
    with sqlite3.connect(workspace.target_state_dir / "ledger.sqlite") as db:
        rows = db.execute("SELECT source_id, pipedrive_id, sent FROM entities WHERE stream=? AND status='done'",
                          (stream,)).fetchall()
    return {source_id: {"id": pid, "sent": json.loads(sent or "{}")} for source_id, pid, sent in rows}


@pytest.fixture
def cutover(tmp_path, workspace_factory):
    practicehub = start_practicehub("tiny")
    pipedrive = start_pipedrive(tmp_path / "pipedrive.sqlite3")
    try:
        workspace = workspace_factory(practicehub, pipedrive)
        before = pipedrive.public_account()
        full = workspace.run(run_id="full")
        assert full.ok, full.describe()
        yield workspace, practicehub, pipedrive, before
    finally:
        practicehub.stop()
        pipedrive.stop()


def test_deletions_team_edits_and_rollback_in_a_real_cutover(cutover):
    workspace, practicehub, pipedrive, before = cutover
    persons, deals = landed(workspace, "persons"), landed(workspace, "deals")
    with_deals = {deal["sent"].get("person_id") for deal in deals.values()}
    patients = sorted((sid for sid, p in persons.items() if p["id"] in with_deals), key=lambda s: int(s.split(":")[1]))
    deleted, noted = patients[0], patients[1]
    renamed = next(sid for sid, d in deals.items() if d["sent"].get("person_id") == persons[patients[2]]["id"])

    practicehub.patch_record("patients", int(deleted.split(":")[1]), {"deleted": 1})  # the practice
    time.sleep(1.1)  # Pipedrive's times are to the second
    deal_id, person_id = deals[renamed]["id"], persons[noted]["id"]  # the team
    assert pipedrive.request("PATCH", f"/api/v2/deals/{deal_id}", json={"title": "Renamed by the team"}).ok
    note = pipedrive.request("POST", "/api/v1/notes", json={"content": "Rang back, all good", "person_id": person_id})
    assert note.ok, note.text
    note_id = note.json()["data"]["id"]

    delta = workspace.run(run_id="delta")
    assert delta.ok, delta.describe()
    summary = json.loads((workspace.target_state_dir / "summary.json").read_text())
    (row,) = summary["source_deletions"]["records"]
    assert (row["source_id"], row["how"], row["action"]) == (deleted, "marked_deleted", "reported")
    assert row["in_pipedrive"]["persons"] == [persons[deleted]["id"]] and row["in_pipedrive"]["deals"]
    assert persons[deleted]["id"] in {p["id"] for p in live(pipedrive.snapshot(), "persons")}  # report: stays
    assert pipedrive.get(f"/api/v2/deals/{deal_id}").json()["data"]["title"] == "Renamed by the team"

    verify = workspace.target_command("verify")
    assert verify.returncode == 0, verify.stderr[-2000:]
    assert "changed in Pipedrive after landing (the team's edit: reported, not a failure): deals.title" in verify.stderr

    dry = workspace.target_command("rollback", "--all", "--dry-run")
    assert dry.returncode == 0, dry.stderr[-2000:]
    assert f"notes {note_id} added by the team, on persons {person_id} ({noted})" in dry.stderr
    assert f"deals {deal_id} ({renamed}) changed in Pipedrive since it landed: title" in dry.stderr
    mark = len(pipedrive.requests_log())
    refused = workspace.target_command("rollback", "--all")
    assert refused.returncode == 4 and "rollback refused" in refused.stderr
    assert [e for e in pipedrive.requests_log(mark) if e["method"] != "GET"] == []

    kept = workspace.target_command("rollback", "--all", "--keep-team-work")
    assert kept.returncode == 0, kept.stderr[-2000:]
    snapshot = pipedrive.snapshot()
    assert note_id in {n["id"] for n in live(snapshot, "notes")}
    assert {person_id, persons[patients[2]]["id"]} <= {p["id"] for p in live(snapshot, "persons")}
    assert persons[deleted]["id"] not in {p["id"] for p in live(snapshot, "persons")}
    alive = {entity: {r["id"] for r in live(snapshot, entity)} for entity in ("persons", "deals", "organizations")}
    for entity in ("notes", "deals", "activities", "files"):  # nothing left hanging on a deleted record
        for record in live(snapshot, entity):
            for key, parent in (("person_id", "persons"), ("deal_id", "deals"), ("org_id", "organizations")):
                assert not record.get(key) or record[key] in alive[parent], (entity, record["id"], key)

    discarded = workspace.target_command("rollback", "--all", "--discard-team-work")
    assert discarded.returncode == 0, discarded.stderr[-2000:]
    assert any(e["op"] == "discard" and e["id"] == note_id for e in jsonl(workspace.target_state_dir / "manifest.jsonl"))
    assert account_changes(before, pipedrive.public_account(), VOLATILE) == []


def test_a_patient_deleted_outright_is_found_by_reconcile_then_archived_by_the_next_delta(cutover):
    workspace, practicehub, pipedrive, _ = cutover
    persons, deals = landed(workspace, "persons"), landed(workspace, "deals")
    patient = next(sid for sid, p in sorted(persons.items()) if any(
        d["sent"].get("person_id") == p["id"] for d in deals.values()))
    its_deals = sorted(d["id"] for d in deals.values() if d["sent"].get("person_id") == persons[patient]["id"])
    practicehub.delete_record("patients", int(patient.split(":")[1]))  # gone from the API: a delta cannot see it

    quiet = workspace.run(run_id="delta-1")
    assert quiet.ok and json.loads((workspace.target_state_dir / "summary.json").read_text())[
        "source_deletions"]["records"] == []
    result, check = workspace.source_check()
    assert result.returncodes["target"] == 0, result.describe()
    (row,) = [r for r in check["deleted_in_source"] if r["source_id"] == patient]
    assert row["how"] == "gone_from_api" and row["in_pipedrive"]["deals"] == its_deals

    workspace.target_config["on_source_delete"] = "archive"
    archived = workspace.run(run_id="delta-2")
    assert archived.ok, archived.describe()
    (row,) = json.loads((workspace.target_state_dir / "summary.json").read_text())["source_deletions"]["records"]
    assert (row["source_id"], row["how"], row["action"], row["archived"]) == (patient, "gone_from_api", "archived",
                                                                             its_deals)
    in_archive = {d["id"] for d in pipedrive.get("/api/v2/deals/archived", params={"limit": 500}).json()["data"]}
    assert in_archive == set(its_deals)
    verify = workspace.target_command("verify")
    assert verify.returncode == 0, verify.stderr[-2000:]
    undone = workspace.target_command("rollback", "--run", "delta-2")
    assert undone.returncode == 0, undone.stderr[-2000:]
    assert pipedrive.get("/api/v2/deals/archived").json()["data"] == []
