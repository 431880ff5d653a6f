"""The plugin commands: preflight (no writes), verify (field-level diff), rollback (exact undo)."""

from __future__ import annotations

import contextlib
import csv
import io
import json
import time

from target_pipedrive.target import run_command
from testkit.target_contract import _field, messages, write_singer
from testkit.target_run import live


def _row(row: dict) -> dict:
    # A custom field set to null reads the same as one never set: rollback clears values it wrote.
    out = {k: v for k, v in row.items() if k != "update_time"}
    if isinstance(out.get("custom_fields"), dict):
        out["custom_fields"] = {k: v for k, v in out["custom_fields"].items() if v is not None}
    return out


def _comparable(snapshot: dict) -> dict:
    """Live data without the timestamps every write moves."""
    out = {}
    for entity, rows in snapshot.items():
        if not isinstance(rows, list):
            out[entity] = rows
            continue
        out[entity] = sorted(
            (
                _row(row)
                for row in rows
                if not row.get("is_deleted")
            ),
            key=lambda r: json.dumps(r, sort_keys=True, default=str),
        )
    return out


def _differences(before: dict, after: dict) -> list:
    out = []
    for entity, rows in _comparable(after).items():
        old = {r.get("id"): r for r in _comparable(before)[entity]} if isinstance(rows, list) else {}
        for row in rows if isinstance(rows, list) else []:
            if old.get(row.get("id")) != row:
                out.append((entity, old.get(row.get("id")), row))
    return json.dumps(out[:2], default=str)


def test_preflight_reports_the_plan_and_writes_nothing(harness):
    data = harness.practice()
    data["persons"][0]["owner_email"] = "gone@old-practice.test"
    mark = harness.log_mark()
    proc = harness.command("preflight", "--input", str(harness.input_file(data)))
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert harness.writes(mark) == []
    report = json.loads((harness.state_dir / "preflight.json").read_text())
    assert report["ok"] and report["records"]["persons"] == 6
    assert [o["owner_email"] for o in report["unmatched_owners"]] == ["gone@old-practice.test"]
    kinds = [obj["type"] for obj in report["to_create"]]
    assert kinds.count("field") == 10 and kinds.count("pipeline") == 1 and kinds.count("stage") == 3
    # 15 v2 creates at 5 tokens, 3 notes and 2 files at 10, 14 schema objects (10 fields, 1 pipeline, 3 stages) at 5.
    expected = 2 * 5 + 6 * 5 + 4 * 5 + 3 * 5 + 3 * 10 + 2 * 10 + 14 * 5
    assert report["planned_tokens"] == expected
    assert report["daily_budget"] == 30_000 * 5 * 3 and report["days_needed"] == 1
    assert report["token_user"]["can_see_and_delete_all"] is True
    assert (harness.state_dir / "preflight.json").stat().st_mode & 0o777 == 0o600

    blocked = harness.command("preflight", "--input", str(harness.input_file(data)),
                              fallback_owner_email="nobody@nowhere.test", seats=1, plan="lite")
    assert blocked.returncode == 1
    assert "fallback_owner_email" in blocked.stderr
    assert harness.writes(mark) == []


def test_preflight_measures_the_uploads_of_library_assets_apart(harness):
    data = harness.practice()
    attachments = len(data["files"])
    for person in data["persons"][:3]:  # one Patient Library asset assigned to three people: three uploads
        upload = dict(data["files"][0], source_id=f"patient_library:9#{person['source_id']}",
                      deal_source_id=None, person_source_id=person["source_id"])
        data["files"].append(upload)
    proc = harness.command("preflight", "--input", str(harness.input_file(data)))
    assert proc.returncode == 0, proc.stderr[-2000:]
    files = json.loads((harness.state_dir / "preflight.json").read_text())["planned_calls"]["files"]
    assert files["by_source_stream"]["patient_library"] == {"records": 3, "tokens_if_all_new": 30}
    assert sum(row["records"] for row in files["by_source_stream"].values()) == attachments + 3


def test_preflight_counts_days_when_the_budget_is_small(harness):
    data = harness.practice()
    harness.run(data)
    proc = harness.command("preflight", "--input", str(harness.input_file(data)), plan="lite", seats=1)
    report = json.loads((harness.state_dir / "preflight.json").read_text())
    assert proc.returncode == 0
    assert report["planned_calls"]["persons"]["already_loaded"] == 6 and report["planned_calls"]["persons"]["new"] == 0
    assert report["to_create"] == [] and report["planned_tokens"] == 0


def test_verify_passes_then_names_a_field_that_landed_wrong_apart_from_a_team_edit(harness):
    data = harness.practice()
    assert harness.run(data).returncode == 0
    ok = harness.command("verify")
    assert ok.returncode == 0, ok.stderr[-2000:]
    summary = json.loads((harness.state_dir / "verify_summary.json").read_text())
    assert summary["entities_checked"] == 20 and summary["mismatches"] == 0
    assert summary["calls_per_1000"] <= 1000 * 8 / 20  # 4 v2 lists + notes + files lists

    rows = json.loads((harness.state_dir / "field_map.json").read_text())
    mrn = next(r for r in rows if r["logical_name"] == "mrn")["key"]
    pid_key = next(r for r in rows if r["entity"] == "persons" and r["logical_name"] == "practicehub_id")["key"]
    persons = {(p.get("custom_fields") or {}).get(pid_key): p for p in live(harness.sandbox.snapshot(), "persons")}
    # Landed wrong: a value other than the one sent, in a record nobody changed since (update_time as it landed).
    wrong = persons["patients:103"]
    harness.sandbox.change_record("persons", wrong["id"], name="Someone Else", update_time=wrong["update_time"],
                                  custom_fields={mrn: "TAMPERED"})
    # Changed by the team after landing: an edit through the API, a second later (Pipedrive's times are to the second).
    time.sleep(1.1)
    team = persons["patients:104"]
    response = harness.sandbox.request("PATCH", f"/api/v2/persons/{team['id']}", json={"name": "Renamed By Team"})
    assert response.status_code == 200, response.text
    bad = harness.command("verify")
    assert bad.returncode == 1
    assert f"mismatched field: custom_fields.{mrn}" in bad.stderr and "mismatched field: name" in bad.stderr
    assert "changed in Pipedrive after landing (the team's edit: reported, not a failure): persons.name" in bad.stderr
    with open(harness.state_dir / "verify_diff.csv", encoding="utf-8") as handle:
        diffs = list(csv.DictReader(handle))
    assert {(d["source_id"], d["field"], d["classification"]) for d in diffs} == {
        ("patients:103", "name", "landed_wrong"), ("patients:103", f"custom_fields.{mrn}", "landed_wrong"),
        ("patients:104", "name", "changed_in_pipedrive")}
    assert next(d for d in diffs if d["field"] != "name")["field_label"].startswith("mrn")
    summary = json.loads((harness.state_dir / "verify_summary.json").read_text())
    assert summary["mismatches"] == 2 and summary["changed_in_pipedrive"] == 1

    # The wrong landing put right (the team's edit stays): verify passes, the edit still reported.
    harness.sandbox.change_record("persons", wrong["id"], name=wrong["name"], update_time=wrong["update_time"],
                                  custom_fields={mrn: wrong["custom_fields"][mrn]})
    fixed = harness.command("verify")
    assert fixed.returncode == 0, fixed.stderr[-2000:]
    assert "1 changed in Pipedrive after landing" in fixed.stderr


def test_rollback_restores_the_account_exactly(harness):
    before = harness.sandbox.snapshot()
    existing = next(p for p in live(before, "persons") if p.get("emails"))
    data = harness.practice()
    # One incoming patient is already in the account (same e-mail and name): it is updated, not duplicated.
    data["persons"][3]["emails"] = [{"value": existing["emails"][0]["value"], "primary": True, "label": "work"}]
    data["persons"][3]["name"] = " ".join(reversed(existing["name"].split())).upper()
    result = harness.run(data)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.summary["streams"]["persons"]["updated"] == 1
    during = harness.sandbox.snapshot()
    assert next(p for p in during["persons"] if p["id"] == existing["id"])["name"] == data["persons"][3]["name"]
    assert _comparable(during) != _comparable(before)
    manifest = [json.loads(line) for line in (harness.state_dir / "manifest.jsonl").read_text().splitlines()]
    assert any(e["op"] == "update" and e["id"] == existing["id"] for e in manifest)

    dry = harness.command("rollback", "--all", "--dry-run")
    assert dry.returncode == 0 and "would delete persons" in dry.stderr
    assert _comparable(harness.sandbox.snapshot()) == _comparable(during)

    done = harness.command("rollback", "--run", "run-1")
    assert done.returncode == 0, done.stderr[-2000:]
    after = harness.sandbox.snapshot()
    assert _comparable(after) == _comparable(before), _differences(before, after)
    mark = harness.log_mark()
    again = harness.command("rollback", "--run", "run-1")
    assert again.returncode == 0 and harness.writes(mark) == []


def test_dry_run_config_plans_through_the_target_without_writes(harness):
    mark = harness.log_mark()
    result = harness.run(harness.practice(), dry_run=True)
    assert result.returncode == 0, result.stderr[-2000:]
    assert harness.writes(mark) == []
    report = json.loads((harness.state_dir / "preflight.json").read_text())
    assert report["records"]["deals"] == 4 and report["planned_write_calls"] == 20 + 14
    assert not (harness.state_dir / "ledger.sqlite").exists()


def test_plugin_commands_read_settings_from_env(harness, monkeypatch):
    """`meltano invoke target-pipedrive:verify` passes settings as TARGET_PIPEDRIVE_* variables."""
    assert harness.run(harness.practice()).returncode == 0
    for key, value in harness.config.items():
        monkeypatch.setenv(f"TARGET_PIPEDRIVE_{key.upper()}", str(value))
    stderr = io.StringIO()
    with contextlib.redirect_stderr(stderr):
        code = run_command(["verify", "--config", "ENV"])
    assert code == 0, stderr.getvalue()[-2000:]
    assert "verify OK: 20 entities" in stderr.getvalue()


def test_preflight_blocks_a_migration_the_plan_cannot_hold_and_the_load_refuses_to_start(harness):
    data = harness.practice()
    used = len([f for path in ("personFields", "organizationFields", "dealFields", "activityFields")
                for f in harness.sandbox.get(f"/api/v2/{path}").json()["data"] if f.get("is_custom_field")])
    assert used >= 2  # an account in use
    mark = harness.log_mark()
    fits = harness.command("preflight", "--input", str(harness.input_file(data)), plan="lite", seats=1)
    assert fits.returncode == 0, fits.stderr[-2000:]
    report = json.loads((harness.state_dir / "preflight.json").read_text())
    fields = report["plan_limits"]["custom_fields"]
    assert (fields["limit"], fields["in_use"], fields["to_create"]) == (30, used, 10)
    deals = report["plan_limits"]["open_deals"]
    assert deals["limit"] == 2_500 and deals["to_create"] == sum(
        1 for d in data["deals"] if (d.get("status") or "open") == "open")
    assert harness.writes(mark) == []

    # A migration Lite cannot hold: 30 more person custom fields (40 to create, on top of those in use).
    msgs = messages(data)
    persons_schema = next(m for m in msgs if m["type"] == "SCHEMA" and m["stream"] == "persons")
    persons_schema["schema"]["properties"]["custom_fields"]["properties"].update(
        {f"extra_{i}": _field(f"Extra {i}", "varchar") for i in range(30)})
    wide = write_singer(harness.workdir / "wide.singer", msgs)
    over = harness.command("preflight", "--input", str(wide), plan="lite", seats=1)
    assert over.returncode == 1 and "custom fields:" in over.stderr and "upgrade to Growth" in over.stderr
    load = harness.run(wide, in_process=False, plan="lite", seats=1)
    assert load.returncode == 2 and "the preflight found blocking issues" in load.stderr
    assert harness.writes(mark) == []
    forced = harness.run(wide, in_process=False, plan="lite", seats=1, accept_preflight_issues=True)
    assert forced.returncode == 0, forced.stderr[-2000:]  # a user who has checked (here: no plan limits enforced)
