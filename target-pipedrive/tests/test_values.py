"""Values with no obvious Pipedrive home: date of birth, org-type custom fields, organization phone/email."""

from __future__ import annotations

import json

from testkit.target_contract import _field, messages
from testkit.target_run import by_custom, live

INSURANCE = {"insurance_carrier_org": _field("Insurance carrier", "org", json_type=("object", "null"))}


def _field_rows(harness) -> dict[tuple[str, str], dict]:
    rows = json.loads((harness.state_dir / "field_map.json").read_text())
    return {(row["entity"], row["logical_name"]): row for row in rows}


def _without_dob_custom_field(data: dict) -> list[dict]:
    """The transform's real output: date of birth in `birthday` only, no custom "Date of birth" field."""
    msgs = messages(data)
    for msg in msgs:
        if msg["type"] == "SCHEMA" and msg["stream"] == "persons":
            msg["schema"]["properties"]["custom_fields"]["properties"].pop("date_of_birth")
        if msg["type"] == "RECORD" and msg["stream"] == "persons":
            msg["record"]["custom_fields"].pop("date_of_birth")
    return msgs


def _with_persons_fields(msgs: list[dict], extra: dict) -> list[dict]:
    for msg in msgs:
        if msg["type"] == "SCHEMA" and msg["stream"] == "persons":
            msg["schema"]["properties"]["custom_fields"]["properties"].update(extra)
    return msgs


def _run_messages(harness, msgs: list[dict], **overrides):
    path = harness.workdir / "input.singer"
    path.write_text("".join(json.dumps(m) + "\n" for m in msgs), encoding="utf-8")
    return harness.run(path, **overrides)


def test_date_of_birth_goes_to_a_custom_date_field_when_the_account_has_no_birthday(harness):
    data = harness.practice()
    for i, person in enumerate(data["persons"]):
        person["birthday"] = f"1980-02-{10 + i:02d}"
    data["persons"][-1]["birthday"] = "not a date"
    result = _run_messages(harness, _without_dob_custom_field(data))
    assert result.returncode == 0, result.stderr[-2000:]
    summary = result.summary
    assert "birthday" not in summary["ignored_properties"].get("persons", {})
    invalid = [w for w in summary["warnings"] if w["property"] == "birthday"]
    assert invalid == [{"stream": "persons", "property": "birthday", "reason": "invalid_value", "count": 1,
                        "detail": "not a YYYY-MM-DD date: not written"}]

    row = _field_rows(harness)[("persons", "birthday")]
    assert (row["label"], row["field_type"], row["status"], row["phi"]) == ("Date of birth", "date", "created", True)
    persons = by_custom(live(harness.sandbox.snapshot(), "persons"), _field_rows(harness)[("persons",
                                                                                           "practicehub_id")]["key"])
    assert persons["patients:101"]["custom_fields"][row["key"]] == "1980-02-10"
    assert persons["patients:105"]["custom_fields"][row["key"]] == "1980-02-14"
    assert persons["patients:106"]["custom_fields"].get(row["key"]) is None

    verify = harness.command("verify")
    assert verify.returncode == 0, verify.stderr


def test_date_of_birth_goes_to_the_contact_sync_birthday_field_where_it_exists(harness):
    from pipedrive_sandbox.fields import FIELD_FAMILIES, field_record

    store = harness.sandbox.account.store  # the account has Contact Sync: a company field with key `birthday`
    store.insert(FIELD_FAMILIES["person"], field_record(store, "person", "birthday", "Birthday", "date", False))
    data = harness.practice(n_persons=2)
    data["persons"][0]["birthday"] = "1975-11-30"
    result = _run_messages(harness, _without_dob_custom_field(data))
    assert result.returncode == 0, result.stderr[-2000:]
    assert ("persons", "birthday") not in _field_rows(harness)
    assert result.summary["warnings"] == []
    sent = [e for e in harness.sandbox.requests_log() if e["method"] == "POST" and e["path"].endswith("/persons")]
    assert len(sent) == 2
    persons = by_custom(live(harness.sandbox.snapshot(), "persons"), _field_rows(harness)[("persons",
                                                                                           "practicehub_id")]["key"])
    assert persons["patients:101"].get("birthday") == "1975-11-30"


def test_org_custom_fields_resolve_by_source_id_and_by_name_and_count_the_rest(harness):
    data = harness.practice(n_persons=5)
    refs = [{"source_id": "businesses:1"}, {"name": "clinic 2"}, {"source_id": "businesses:404"},
            {"name": "No Such Carrier"}, None]
    for person, ref in zip(data["persons"], refs, strict=True):
        person["custom_fields"]["insurance_carrier_org"] = ref
    # Persons first: the one referring to businesses:1 by source id waits for it instead of losing it.
    msgs = _with_persons_fields(messages(data, order=["persons", "organizations", "deals", "activities", "notes",
                                                      "files", "skipped"]), INSURANCE)
    result = _run_messages(harness, msgs)
    assert result.returncode == 0, result.stderr[-2000:]
    summary = result.summary
    assert summary["reconciles"] and summary["streams"]["persons"]["created"] == 5
    assert "custom_fields.insurance_carrier_org" not in summary["ignored_properties"].get("persons", {})
    assert summary["unresolved_references"] == {"persons": {"custom_fields.insurance_carrier_org": 2}}
    assert any(w["reason"] == "unresolved_reference" and w["count"] == 2 for w in summary["warnings"])

    rows = _field_rows(harness)
    snap = harness.sandbox.snapshot()
    orgs = by_custom(live(snap, "organizations"), rows[("organizations", "practicehub_id")]["key"])
    persons = by_custom(live(snap, "persons"), rows[("persons", "practicehub_id")]["key"])
    key = rows[("persons", "insurance_carrier_org")]["key"]
    assert persons["patients:101"]["custom_fields"][key] == orgs["businesses:1"]["id"]
    assert persons["patients:102"]["custom_fields"][key] == orgs["businesses:2"]["id"]
    assert [persons[f"patients:{i}"]["custom_fields"].get(key) for i in (103, 104, 105)] == [None, None, None]


def test_organization_phone_and_email_are_reported_not_dropped_silently(harness):
    data = harness.practice(n_persons=1)
    data["organizations"][0].update(phone="+15550001", email="front@clinic1.example")
    data["organizations"][1].update(phone="+15550002")
    result = harness.run(data)
    assert result.returncode == 0, result.stderr[-2000:]
    summary = result.summary
    warnings = {(w["stream"], w["property"]): w for w in summary["warnings"]}
    assert warnings[("organizations", "phone")]["count"] == 2
    assert warnings[("organizations", "email")]["count"] == 1
    assert "no phone field" in warnings[("organizations", "phone")]["detail"]
    assert summary["ignored_properties"]["organizations"] == {"email": 1, "phone": 2}
    assert "front@clinic1.example" not in json.dumps(summary) and "+15550001" not in result.stderr
