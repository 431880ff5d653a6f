"""Generic taps: pipelines, stages and custom fields from the target's settings (or a YAML schema_file),
found by name in the account; option values the account lacks handled by `unknown_options`."""

from __future__ import annotations

import json

import pytest
from testkit.generic_tap import DECLARED_FIELDS, generic_messages, practice_rows, write_messages
from testkit.target_run import live

ADMIN = "admin@sandbox-clinic.test"


def _run(harness, rows: dict, name: str = "generic.singer", **overrides):
    path = write_messages(harness.workdir / name, generic_messages(rows))
    return harness.run(path, in_process=False, **overrides)


def _field(snapshot: dict, family: str, name: str) -> dict | None:
    return next((f for f in snapshot["fields"][family] if f["field_name"] == name), None)


def _by_name(records: list[dict], key: str = "name") -> dict:
    return {r[key]: r for r in records}


def test_deals_land_in_the_accounts_own_pipeline_and_stage_found_by_name(harness):
    before = harness.sandbox.snapshot()
    run = _run(harness, practice_rows(ADMIN))
    assert run.returncode == 0, run.stderr[-3000:]
    snap = harness.sandbox.snapshot()
    assert len(snap["pipelines"]) == len(before["pipelines"]) and len(snap["stages"]) == len(before["stages"])
    pipeline = next(p for p in snap["pipelines"] if p["name"] == "Pipeline")
    stages = {s["name"]: s["id"] for s in snap["stages"] if s["pipeline_id"] == pipeline["id"]}
    deals = _by_name(live(snap, "deals"), "title")
    assert deals["Physio block"]["pipeline_id"] == pipeline["id"]
    assert deals["Physio block"]["stage_id"] == stages["Contact Made"]
    assert deals["Assessment"]["stage_id"] == stages["Lead In"]
    assert run.summary["streams"]["deals"]["created"] == 2 and run.summary["streams"]["notes"]["created"] == 2


def test_declared_pipelines_are_created_and_existing_ones_reused(harness):
    rows = practice_rows(ADMIN)
    rows["deals"][1].update(pipeline="Referrals", stage="Booked")
    pipelines = [{"name": "Pipeline", "stages": ["Lead In", "Contact Made"]},
                 {"name": "Referrals", "stages": ["New", {"name": "Booked"}]}]
    run = _run(harness, rows, pipelines=pipelines)
    assert run.returncode == 0, run.stderr[-3000:]
    snap = harness.sandbox.snapshot()
    assert [p["name"] for p in snap["pipelines"]].count("Pipeline") == 1
    referrals = next(p for p in snap["pipelines"] if p["name"] == "Referrals")
    stages = [s["name"] for s in sorted(snap["stages"], key=lambda s: s["order_nr"]) if s["pipeline_id"] == referrals["id"]]
    assert stages == ["New", "Booked"]
    deal = _by_name(live(snap, "deals"), "title")["Assessment"]
    assert deal["pipeline_id"] == referrals["id"]


def test_custom_fields_from_the_settings_land_with_unknown_options_skipped_by_default(harness):
    lead_channel_before = _field(harness.sandbox.snapshot(), "person", "Lead channel")
    run = _run(harness, practice_rows(ADMIN), custom_fields=DECLARED_FIELDS)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "Billboard" not in run.stderr and "Billboard" not in json.dumps(run.summary)
    snap = harness.sandbox.snapshot()
    lead_channel = _field(snap, "person", "Lead channel")
    assert lead_channel["options"] == lead_channel_before["options"]  # the account's field is not changed
    referral = _field(snap, "person", "Referral code")
    assert referral is not None and referral["field_type"] == "varchar"
    options = {o["label"]: o["id"] for o in lead_channel["options"]}
    persons = _by_name(live(snap, "persons"))
    assert persons["Ada Lovelace"]["custom_fields"][lead_channel["field_code"]] == options["Website"]
    assert persons["Alan Turing"]["custom_fields"][lead_channel["field_code"]] == options["Referral"]
    assert persons["Ada Lovelace"]["custom_fields"][referral["field_code"]] == "R-100"
    assert persons["Grace Hopper"]["custom_fields"].get(lead_channel["field_code"]) is None
    campaign = _field(snap, "deal", "Campaign")
    assert _by_name(live(snap, "deals"), "title")["Physio block"]["custom_fields"][campaign["field_code"]] == "Spring"

    degraded = [json.loads(line) for line in (harness.state_dir / "degraded.jsonl").read_text().splitlines()]
    assert [(d["source_stream"], d["source_id"], d["field"], d["reason"], d["action"]) for d in degraded] == [
        ("persons", "pt-3", "custom_fields.lead_channel", "not_an_option", "skipped")]
    warning = next(w for w in run.summary["warnings"] if w["reason"] == "not_an_option")
    assert warning["count"] == 1 and warning["property"] == "custom_fields.lead_channel"
    assert ("target-pipedrive: 1 persons value(s) of custom_fields.lead_channel not among the field's options:"
            " skipped (unknown_options: skip_value)") in run.stderr
    # The flat columns became custom fields: not reported as properties Pipedrive has no field for.
    assert "lead_channel" not in run.summary["ignored_properties"].get("persons", {})


@pytest.mark.parametrize("policy", ["keep_as_text", "add_option"])
def test_unknown_options_policies_keep_the_text_or_add_the_option(harness, policy):
    run = _run(harness, practice_rows(ADMIN), custom_fields=DECLARED_FIELDS, unknown_options=policy)
    assert run.returncode == 0, run.stderr[-3000:]
    snap = harness.sandbox.snapshot()
    lead_channel = _field(snap, "person", "Lead channel")
    grace = _by_name(live(snap, "persons"))["Grace Hopper"]["custom_fields"]
    labels = {o["id"]: o["label"] for o in lead_channel["options"]}
    text_field = _field(snap, "person", "Lead channel (text)")
    if policy == "keep_as_text":
        assert "Billboard" not in labels.values()
        assert grace[text_field["field_code"]] == "Billboard"
    else:
        assert labels[grace[lead_channel["field_code"]]] == "Billboard" and text_field is None
    (entry,) = [json.loads(line) for line in (harness.state_dir / "degraded.jsonl").read_text().splitlines()]
    assert entry["action"] == {"keep_as_text": "kept_as_text", "add_option": "option_added"}[policy]


def test_a_schema_file_declares_the_same_in_yaml(harness):
    schema_file = harness.workdir / "pipedrive-schema.yml"
    schema_file.write_text(
        "pipelines:\n  - name: Referrals\n    stages: [New, Booked]\n"
        "custom_fields:\n  persons:\n    lead_channel: {name: Lead channel}\n"
        "    referral_code: {name: Referral code, field_type: varchar}\n")
    rows = practice_rows(ADMIN)
    rows["deals"][0].update(pipeline="Referrals", stage="New")
    run = _run(harness, rows, schema_file=str(schema_file))
    assert run.returncode == 0, run.stderr[-3000:]
    snap = harness.sandbox.snapshot()
    referrals = next(p for p in snap["pipelines"] if p["name"] == "Referrals")
    deals = _by_name(live(snap, "deals"), "title")
    assert deals["Physio block"]["pipeline_id"] == referrals["id"]
    assert deals["Assessment"]["stage_id"] is not None  # "Pipeline" / "Lead In": the account's own, found by name
    assert _field(snap, "person", "Referral code") is not None


@pytest.mark.parametrize(("overrides", "message"), [
    ({"custom_fields": {"persons": {"x": {"name": "X", "field_type": "decimal"}}}},
     "custom_fields.persons.x.field_type is not one of varchar"),
    ({"custom_fields": {"activities": {"x": {"name": "X"}}}}, "custom_fields"),
    ({"custom_fields": {"persons": {"nowhere": {"name": "No such field"}}}},
     "custom_fields.persons.nowhere: the account has no persons field named 'No such field'; add field_type"),
    ({"pipelines": [{"stages": ["A"]}]}, "pipelines.0 needs name"),
    ({"schema_file": "/nonexistent/schema.yml"}, "schema_file /nonexistent/schema.yml: cannot be read"),
])
def test_a_bad_declaration_stops_the_run_with_one_line(harness, overrides, message):
    run = _run(harness, practice_rows(ADMIN), **overrides)
    assert run.returncode == 2, run.stderr[-3000:]
    assert "Traceback" not in run.stderr
    (line,) = [line for line in run.stderr.splitlines() if line.startswith("target-pipedrive cannot start")]
    assert message in line


def _never_read():
    raise AssertionError("the account was read although the SCHEMA declares everything")


def test_the_transforms_declarations_need_no_account_read_and_bad_ones_are_taken_out():
    from target_pipedrive.declared_schema import DeclaredSchema
    from testkit.target_contract import SCHEMAS

    declared = DeclaredSchema.from_config({})
    deals = json.loads(json.dumps(SCHEMAS["deals"]["schema"]))
    deals["x-pipedrive-pipelines"].append({"stages": ["No name"]})
    merged, refused = declared.merge("deals", deals, _never_read)
    assert [p["name"] for p in merged["x-pipedrive-pipelines"]] == ["Treatment plans"]
    assert refused == [("x-pipedrive-pipelines", "declaration needs name")]
    persons, refused = declared.merge("persons", SCHEMAS["persons"]["schema"], _never_read)
    assert persons == SCHEMAS["persons"]["schema"] and refused == []
