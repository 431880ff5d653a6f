"""The cutover window: the practice keeps working in PracticeHub, the team already works in Pipedrive.

Through the target's public commands against the sandbox: the delta leaves the team's edits (and lists
every field both sides changed, settled by `on_conflict`), reads back in batches only the records it is
about to update, and deals with records deleted in PracticeHub by `on_source_delete`; rollback finds the
team's work first and refuses, keeps it or discards it, never leaving it orphaned.
"""

from __future__ import annotations

import copy
import json
import sqlite3
import time

from testkit.target_run import live

from tests.test_commands import _comparable, _differences

DELETED = {"source_stream": "patients", "source_id": "patients:101", "reason": "deleted_in_source",
           "detail": "patient is marked deleted in PracticeHub"}


def ledger(harness, stream: str, status: str = "done") -> dict[str, int]:
    with sqlite3.connect(harness.state_dir / "ledger.sqlite") as db:
        rows = db.execute("SELECT source_id, pipedrive_id FROM entities WHERE stream=? AND status=?", (stream, status))
        return dict(rows.fetchall())


def manifest(harness) -> list[dict]:
    return [json.loads(line) for line in (harness.state_dir / "manifest.jsonl").read_text().splitlines()]


def team_edit(harness, method: str, path: str, body: dict) -> dict:
    """The team working in Pipedrive: an ordinary API call (another user of the account would do the same)."""
    response = harness.sandbox.request(method, path, json=body)
    assert response.status_code == 200, response.text
    return response.json()["data"]


def after_landing() -> None:
    time.sleep(1.1)  # Pipedrive's times are to the second: the team's edits come after the landing's second


def without_deleted_patient(data: dict) -> dict:
    """The delta once patients:101 is marked deleted in PracticeHub: the mapper skips it, and says why."""
    delta = copy.deepcopy(data)
    delta["persons"] = [p for p in delta["persons"] if p["source_id"] != "patients:101"]
    delta["skipped"] = [DELETED]
    for stream in ("deals", "activities", "notes", "files"):
        delta[stream] = []  # nothing else changed in PracticeHub
    delta["organizations"] = []
    return delta


def live_ids(harness, entity: str) -> set[int]:
    return {r["id"] for r in live(harness.sandbox.snapshot(), entity)}


# ---- the delta and the team's edits ---------------------------------------------------------------


def test_the_delta_leaves_the_teams_edits_and_lists_every_conflict(harness, conformance):
    watch = conformance.watch(harness.sandbox)
    data = harness.practice(n_persons=12)
    assert harness.run(data).returncode == 0
    persons, deals = ledger(harness, "persons"), ledger(harness, "deals")
    after_landing()
    team_edit(harness, "PATCH", f"/api/v2/persons/{persons['patients:101']}", {"name": "Renamed By Team"})
    team_phone = [{"value": "+15559990000", "primary": True, "label": "work"}]
    team_edit(harness, "PATCH", f"/api/v2/persons/{persons['patients:102']}", {"phones": team_phone})
    team_edit(harness, "PATCH", f"/api/v2/deals/{deals['treatment_plans:1']}", {"title": "The team's title"})

    delta = copy.deepcopy(data)
    for person in delta["persons"]:
        person["custom_fields"]["balance"] += 1  # every patient changed in PracticeHub (not their name)
    source_phone = [{"value": "+15550009999", "primary": True, "label": "mobile"}]
    delta["persons"][1]["phones"] = source_phone  # patient 2's phone changed on both sides: a conflict
    delta["deals"][0]["value"] = 999.0  # the source changed the value, the team the title
    delta["skipped"] = []
    mark = harness.log_mark()
    run = harness.run(delta, run_id="run-2")
    assert run.returncode == 0, run.stderr[-2000:]

    # Read back first, only what is about to change: the 12 persons in one `ids=` list, the one deal alone
    # (1 token, cheaper than a list's 10), no organization.
    reads = [e["path"] for e in harness.sandbox.requests_log(mark) if e["method"] == "GET"]
    assert reads.count("/api/v2/persons") == 1 and not any(p.startswith("/api/v2/persons/") for p in reads)
    assert reads.count(f"/api/v2/deals/{deals['treatment_plans:1']}") == 1
    assert not any(p.startswith("/api/v2/organizations") for p in reads)

    person = harness.sandbox.get(f"/api/v2/persons/{persons['patients:101']}").json()["data"]
    assert person["name"] == "Renamed By Team"  # the source did not change the name: the team's stays
    second = harness.sandbox.get(f"/api/v2/persons/{persons['patients:102']}").json()["data"]
    assert [p["value"] for p in second["phones"]] == ["+15559990000"]  # both changed: kept, to decide
    deal = harness.sandbox.get(f"/api/v2/deals/{deals['treatment_plans:1']}").json()["data"]
    assert deal["title"] == "The team's title" and deal["value"] == 999.0
    assert run.summary["streams"]["persons"]["updated"] == 12
    assert run.summary["conflicts"] == [{
        "entity": "persons", "source_id": "patients:102", "pipedrive_id": persons["patients:102"], "field": "phones",
        "policy": "report", "resolution": "Pipedrive's value kept, to decide (on_conflict: source_wins or pipedrive_wins)"}]
    assert "+1555" not in json.dumps(run.summary["conflicts"])  # names in the summary, values in the private file
    conflicts = harness.state_dir / "conflicts.jsonl"
    assert conflicts.stat().st_mode & 0o777 == 0o600
    row = json.loads(conflicts.read_text().splitlines()[-1])
    assert row["source"] == source_phone and row["pipedrive"][0]["value"] == "+15559990000"

    verify = harness.command("verify")
    assert verify.returncode == 0, verify.stderr[-2000:]
    summary = json.loads((harness.state_dir / "verify_summary.json").read_text())
    assert summary["mismatches"] == 0
    assert summary["changed_in_pipedrive_fields"] == ["deals.title", "persons.name", "persons.phones"]

    again = harness.run(delta, run_id="run-3")  # undecided: the next delta lists it again, still writes nothing
    assert [c["field"] for c in again.summary["conflicts"]] == ["phones"]
    mark = harness.log_mark()
    decided = harness.run(delta, run_id="run-4", on_conflict="source_wins")
    assert [c["resolution"] for c in decided.summary["conflicts"]] == ["the source's value written over the team's"]
    second = harness.sandbox.get(f"/api/v2/persons/{persons['patients:102']}").json()["data"]
    assert [p["value"] for p in second["phones"]] == ["+15550009999"]
    assert [w["path"] for w in harness.writes(mark)] == [f"/api/v2/persons/{persons['patients:102']}"]
    settled = harness.run(delta, run_id="run-5", on_conflict="source_wins")
    assert settled.summary["conflicts"] == [] and settled.summary["totals"]["updated"] == 0
    assert harness.command("verify").returncode == 0
    assert harness.sandbox.get(f"/api/v2/persons/{persons['patients:101']}").json()["data"]["name"] == "Renamed By Team"
    assert watch.of_kind("request") == [] and watch.of_kind("response") == [], watch.of_kind("request")[:3]


def test_pipedrive_wins_settles_a_conflict_once(harness):
    data = harness.practice()
    assert harness.run(data).returncode == 0
    deals = ledger(harness, "deals")
    after_landing()
    team_edit(harness, "PATCH", f"/api/v2/deals/{deals['treatment_plans:4']}", {"title": "Renamed in Pipedrive"})
    delta = copy.deepcopy(data)
    delta["deals"][3]["title"] = "Renamed in PracticeHub"
    first = harness.run(delta, run_id="run-2", on_conflict="pipedrive_wins")
    assert [(c["source_id"], c["field"], c["resolution"]) for c in first.summary["conflicts"]] == [
        ("treatment_plans:4", "title", "Pipedrive's value kept")]
    mark = harness.log_mark()
    second = harness.run(delta, run_id="run-3", on_conflict="pipedrive_wins")
    assert second.summary["conflicts"] == [] and harness.writes(mark) == []
    deal = harness.sandbox.get(f"/api/v2/deals/{deals['treatment_plans:4']}").json()["data"]
    assert deal["title"] == "Renamed in Pipedrive"
    verify = harness.command("verify")
    assert verify.returncode == 0 and "deals.title" in verify.stderr  # reported as the team's


def test_a_record_deleted_in_pipedrive_is_not_written_again(harness):
    data = harness.practice()
    assert harness.run(data).returncode == 0
    deals = ledger(harness, "deals")
    team_edit(harness, "DELETE", f"/api/v2/deals/{deals['treatment_plans:2']}", {})
    delta = copy.deepcopy(data)
    delta["deals"][1]["title"] = "Changed at the source"
    mark = harness.log_mark()
    run = harness.run(delta, run_id="run-2")
    assert run.returncode == 0 and harness.writes(mark) == []
    skips = [json.loads(line) for line in (harness.state_dir / "skipped.jsonl").read_text().splitlines()]
    assert any(s["source_id"] == "treatment_plans:2" and s["reason"] == "deleted_in_pipedrive" for s in skips)


# ---- deletions at the source ------------------------------------------------------------------------


def test_a_deletion_in_practicehub_is_reported_with_what_it_has_in_pipedrive(harness):
    data = harness.practice()
    assert harness.run(data).returncode == 0
    ids = {stream: ledger(harness, stream) for stream in ("persons", "deals", "activities", "notes", "files")}
    mark = harness.log_mark()
    run = harness.run(without_deleted_patient(data), run_id="run-2")
    assert run.returncode == 0, run.stderr[-2000:]
    assert harness.writes(mark) == []  # on_source_delete: report changes nothing in Pipedrive
    deletions = run.summary["source_deletions"]
    assert deletions["policy"] == "report" and deletions["by_stream"] == {"patients": 1}
    (row,) = deletions["records"]
    assert (row["source_id"], row["how"], row["action"]) == ("patients:101", "marked_deleted", "reported")
    assert row["in_pipedrive"] == {"activities": [ids["activities"]["appointments:1"]],
                                   "deals": [ids["deals"]["treatment_plans:1"]],
                                   "files": [ids["files"]["attachments:1"]],
                                   "notes": [ids["notes"]["treatment_notes:1"]],
                                   "persons": [ids["persons"]["patients:101"]]}
    assert "deleted in PracticeHub (marked_deleted) after it landed" in run.stderr

    # Decided later: the next delta with `archive` archives what was only reported.
    archived = harness.run(without_deleted_patient(data) | {"skipped": []}, run_id="run-3", on_source_delete="archive")
    (row,) = archived.summary["source_deletions"]["records"]
    deal_id = ids["deals"]["treatment_plans:1"]
    assert row["action"] == "archived" and row["archived"] == [deal_id]
    assert "Pipedrive's API has no archived state for persons" in row["detail"]
    listed = {d["id"] for d in harness.sandbox.get("/api/v2/deals", params={"limit": 500}).json()["data"]}
    in_archive = {d["id"] for d in harness.sandbox.get("/api/v2/deals/archived").json()["data"]}
    assert deal_id not in listed and in_archive == {deal_id}
    assert ids["persons"]["patients:101"] in live_ids(harness, "persons")  # no archive for persons: it stays
    assert [e["id"] for e in manifest(harness) if e["op"] == "archive"] == [deal_id]
    verify = harness.command("verify")  # reads the archived deal where Pipedrive keeps it
    assert verify.returncode == 0, verify.stderr[-2000:]
    nothing = harness.run(without_deleted_patient(data) | {"skipped": []}, run_id="run-4", on_source_delete="archive")
    assert nothing.summary["source_deletions"]["records"] == []  # applied once

    undo = harness.command("rollback", "--run", "run-3")
    assert undo.returncode == 0, undo.stderr[-2000:]
    listed = {d["id"] for d in harness.sandbox.get("/api/v2/deals", params={"limit": 500}).json()["data"]}
    assert deal_id in listed


def test_delete_removes_what_the_migration_made_of_it_and_rollback_creates_it_again(harness, conformance):
    watch = conformance.watch(harness.sandbox)  # every call below is one the official spec allows
    before = harness.sandbox.snapshot()
    data = harness.practice()
    assert harness.run(data).returncode == 0
    ids = {stream: ledger(harness, stream) for stream in ("persons", "deals", "activities", "notes", "files")}
    mine = {"persons": "patients:101", "deals": "treatment_plans:1", "activities": "appointments:1",
            "notes": "treatment_notes:1", "files": "attachments:1"}
    run = harness.run(without_deleted_patient(data), run_id="run-2", on_source_delete="delete")
    assert run.returncode == 0, run.stderr[-2000:]
    (row,) = run.summary["source_deletions"]["records"]
    assert row["action"] == "deleted" and row["deleted"] == row["in_pipedrive"]
    for stream, source_id in mine.items():
        assert ids[stream][source_id] not in live_ids(harness, stream), stream
        assert source_id in ledger(harness, stream, status="deleted")
    assert ids["persons"]["patients:102"] in live_ids(harness, "persons")
    copies = list((harness.state_dir / "deleted_files").iterdir())
    assert len(copies) == 1 and copies[0].stat().st_mode & 0o777 == 0o600  # kept so that rollback can upload it
    assert harness.command("verify").returncode == 0

    undo = harness.command("rollback", "--run", "run-2")
    assert undo.returncode == 0, undo.stderr[-2000:]
    again = {stream: ledger(harness, stream) for stream in mine}
    for stream, source_id in mine.items():
        assert again[stream][source_id] in live_ids(harness, stream), stream
    recreated_deal = harness.sandbox.get(f"/api/v2/deals/{again['deals']['treatment_plans:1']}").json()["data"]
    assert recreated_deal["person_id"] == again["persons"]["patients:101"]  # pointing at its new parent
    files = harness.sandbox.get("/api/v1/files").json()["data"]
    upload = next(f for f in files if f["id"] == again["files"]["attachments:1"])
    assert upload["person_id"] == again["persons"]["patients:101"] and upload["file_size"] == copies[0].stat().st_size
    verify = harness.command("verify")
    assert verify.returncode == 0, verify.stderr[-2000:]

    everything = harness.command("rollback", "--all")
    assert everything.returncode == 0, everything.stderr[-2000:]
    after = harness.sandbox.snapshot()
    assert _comparable(after) == _comparable(before), _differences(before, after)
    assert watch.of_kind("request") == [] and watch.of_kind("response") == [], watch.of_kind("request")[:3]


def test_delete_keeps_a_deleted_patient_the_team_has_work_on(harness):
    data = harness.practice()
    assert harness.run(data).returncode == 0
    person_id = ledger(harness, "persons")["patients:101"]
    after_landing()
    note = team_edit(harness, "POST", "/api/v1/notes", {"content": "Called: moving away", "person_id": person_id})
    mark = harness.log_mark()
    run = harness.run(without_deleted_patient(data), run_id="run-2", on_source_delete="delete")
    assert run.returncode == 0, run.stderr[-2000:]
    (row,) = run.summary["source_deletions"]["records"]
    assert row["action"] == "kept" and "the team has work on it" in row["detail"]
    assert {(f["kind"], f["type"], f["id"]) for f in row["team_work"]} >= {("added", "notes", note["id"])}
    assert harness.writes(mark) == [] and person_id in live_ids(harness, "persons")


# ---- rollback and the team's work -------------------------------------------------------------------


def test_rollback_refuses_to_destroy_team_work_keeps_it_or_discards_it_as_told(harness, conformance):
    watch = conformance.watch(harness.sandbox)
    before = harness.sandbox.snapshot()
    data = harness.practice()
    assert harness.run(data).returncode == 0
    persons, deals = ledger(harness, "persons"), ledger(harness, "deals")
    pipeline = next(e["id"] for e in manifest(harness) if e["op"] == "create" and e["type"] == "pipeline")
    stage = next(e["id"] for e in manifest(harness) if e["op"] == "create" and e["type"] == "stage")
    after_landing()
    note = team_edit(harness, "POST", "/api/v1/notes", {"content": "Team note", "person_id": persons["patients:102"]})
    team_edit(harness, "PATCH", f"/api/v2/deals/{deals['treatment_plans:3']}", {"title": "Renamed by the team"})
    team_deal = team_edit(harness, "POST", "/api/v2/deals", {"title": "New course", "person_id": persons["patients:104"],
                                                             "pipeline_id": pipeline, "stage_id": stage})
    on_team_deal = team_edit(harness, "POST", "/api/v1/notes", {"content": "On the team's deal",
                                                                "deal_id": team_deal["id"]})
    call = team_edit(harness, "POST", "/api/v2/activities", {"subject": "Call back", "type": "task", "participants": [
        {"person_id": persons["patients:105"], "primary": True}]})  # a migrated person as a participant
    upload = harness.sandbox.request("POST", "/api/v1/files", files={"file": ("referral.txt", b"referral", "text/plain")},
                                     data={"person_id": str(persons["patients:106"])})
    assert upload.status_code == 200, upload.text
    team_file = upload.json()["data"]
    mark = harness.log_mark()

    dry = harness.command("rollback", "--all", "--dry-run")
    assert dry.returncode == 0, dry.stderr[-2000:]
    assert f"notes {note['id']} added by the team, on persons {persons['patients:102']} (patients:102)" in dry.stderr
    assert f"deals {deals['treatment_plans:3']} (treatment_plans:3) changed in Pipedrive since it landed: title" \
        in dry.stderr
    assert f"deals {team_deal['id']} added by the team" in dry.stderr
    assert f"notes {on_team_deal['id']} added by the team, on deals {team_deal['id']}" in dry.stderr
    assert f"activities {call['id']} added by the team, on persons {persons['patients:105']}" in dry.stderr
    assert f"files {team_file['id']} added by the team, on persons {persons['patients:106']}" in dry.stderr
    refused = harness.command("rollback", "--all")
    assert refused.returncode == 4 and "rollback refused" in refused.stderr
    assert harness.writes(mark) == []  # nothing deleted

    kept = harness.command("rollback", "--all", "--keep-team-work")
    assert kept.returncode == 0, kept.stderr[-2000:]
    snapshot = harness.sandbox.snapshot()
    alive = {entity: {r["id"] for r in live(snapshot, entity)} for entity in ("persons", "deals", "notes")}
    assert {note["id"], on_team_deal["id"]} <= alive["notes"] and team_deal["id"] in alive["deals"]
    assert {persons[f"patients:{n}"] for n in range(102, 107)} <= alive["persons"]
    assert deals["treatment_plans:3"] in alive["deals"]
    assert persons["patients:101"] not in alive["persons"] and deals["treatment_plans:1"] not in alive["deals"]
    assert pipeline in {p["id"] for p in live(snapshot, "pipelines")}  # the team's deal is in it
    assert f"kept persons {persons['patients:102']} (patients:102): the team's notes {note['id']} is on it" \
        in kept.stderr
    for entity in ("notes", "deals", "activities"):  # nothing left hanging on a deleted record
        for record in live(snapshot, entity):
            for key, parent in (("person_id", "persons"), ("deal_id", "deals"), ("org_id", "organizations")):
                if record.get(key):
                    assert record[key] in {r["id"] for r in live(snapshot, parent)}, (entity, record["id"], key)

    discarded = harness.command("rollback", "--all", "--discard-team-work")
    assert discarded.returncode == 0, discarded.stderr[-2000:]
    evidence = [e for e in manifest(harness) if e["op"] == "discard"]
    assert {(e["type"], e["id"]) for e in evidence if e["kind"] == "added"} == {
        ("notes", note["id"]), ("deals", team_deal["id"]), ("notes", on_team_deal["id"]), ("activities", call["id"]),
        ("files", team_file["id"])}
    assert next(e for e in evidence if e["id"] == note["id"])["record"]["content"] == "Team note"
    after = harness.sandbox.snapshot()
    assert _comparable(after) == _comparable(before), _differences(before, after)
    assert watch.of_kind("request") == [] and watch.of_kind("response") == [], watch.of_kind("request")[:3]
