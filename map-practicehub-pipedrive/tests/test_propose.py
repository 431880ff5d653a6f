"""`propose` reads a catalog and/or sample records and writes a reviewed-to-be mapping, offline."""

from __future__ import annotations

import socket

import pytest
from map_practicehub_pipedrive.mapping import propose, read_mapping, stream_plans
from testkit.practice import practice


def catalog() -> dict:
    streams = []
    for name, rows in practice().items():
        properties = {key: {"type": ["string", "null"]} for key in rows[0]}
        if name == "patients":
            properties["nickname"] = {"type": ["string", "null"]}
            properties["e_mail2"] = {"type": ["string", "null"]}
        streams.append({"tap_stream_id": name, "stream": name, "schema": {"properties": properties}})
    streams.append({"tap_stream_id": "rooms", "stream": "rooms", "schema": {"properties": {"id": {}}}})
    return {"streams": streams}


@pytest.fixture
def offline(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("propose must not open network connections")
    monkeypatch.setattr(socket.socket, "connect", refuse)


def test_defaults_for_the_known_streams_with_reasons_and_confidence(offline):
    proposal = propose(catalog(), None)
    streams = proposal["streams"]
    assert {name: entry["target"] for name, entry in streams.items()} == {
        "locations": "organizations", "patient_custom_fields": "reference", "users": "reference",
        "practitioners": "reference", "appointment_types": "reference", "patients": "persons",
        "appointments": "deals", "clinical_notes": "notes", "files": "files", "reminders": "activities",
        "workflows": "documented", "invoices": "notes", "payments": "notes", "payment_methods": "reference",
        "patient_packages": "notes", "care_plans": "notes", "patient_logs": "consumed",
        "custom_form_responses": "notes", "rooms": "skip"}
    dob = streams["patients"]["fields"]["dob"]
    assert (dob["target"], dob["phi"], dob["confidence"]) == ("birthday", True, 1.0) and dob["reason"]
    # Unknown fields: a best guess by name, or skip with the reason.
    assert streams["patients"]["fields"]["e_mail2"]["target"] == "emails.other"
    assert streams["patients"]["fields"]["nickname"] == {
        "target": "skip", "reason": "name not recognised and no values seen", "confidence": 0.3}
    assert "no Pipedrive entity is known" in streams["rooms"]["reason"]


def test_sample_values_are_profiled(offline):
    records = practice()
    records["patients"] += [dict(row, id=row["id"] + 100) for row in records["patients"]]
    for number, row in enumerate(records["patients"]):
        row["favourite_colour"] = ["red", "blue"][number % 2]
        row["last_visit"] = f"2024-01-{number + 1:02d}"
        row["alt_email"] = f"alt{number}@example.org"
        row["mobile_number"] = "+1 555 0100"
        row["contact_info"] = f"c{number}@example.org"
    proposal = propose(None, records)
    fields = proposal["streams"]["patients"]["fields"]
    assert fields["referral_source"]["options"] == ["Friend", "Google"]
    assert "2 distinct values seen" in fields["referral_source"]["reason"]
    assert fields["favourite_colour"]["field_type"] == "enum"
    assert fields["favourite_colour"]["options"] == ["blue", "red"]
    assert fields["last_visit"]["field_type"] == "date" and "date values" in fields["last_visit"]["reason"]
    assert fields["alt_email"]["target"] == "emails.other"
    assert fields["alt_email"]["reason"].startswith("name contains 'email'; neither PracticeHub nor")
    row_guess = fields["contact_info"]
    assert row_guess["field_type"] == "varchar"
    assert row_guess["reason"].startswith("email-like values in 6 of 6 records")
    # Patient fields the defaults don't know are PHI until the reviewer says otherwise.
    assert {name: (fields[name]["phi"], fields[name]["phi_found"]) for name in (
        "favourite_colour", "last_visit", "alt_email", "contact_info")} == dict.fromkeys(
        ("favourite_colour", "last_visit", "alt_email", "contact_info"), (True, None))
    assert fields["mobile_number"]["target"] == "phones.other"  # mobile is taken by `mobile`
    assert fields["mobile_number"]["confidence"] < 1
    apt = proposal["streams"]["appointments"]["fields"]["appointment_type_id"][1]
    assert apt["options"] == ["Follow-up", "Initial Consultation"]
    custom = proposal["streams"]["patients"]["custom_fields"]
    assert custom["preferred_contact"]["options"] == ["Email", "SMS", "Phone"]
    assert custom["preferred_contact"]["label"] == "Preferred contact"


def test_a_proposal_loads_and_plans(tmp_path):
    from map_practicehub_pipedrive.mapping import dump
    path = tmp_path / "proposed.yml"
    path.write_text(dump(propose(catalog(), practice())))
    plans = stream_plans(read_mapping(path), include_phi=False)
    assert "patients.dob" not in [rule.source for rule in plans["patients"].fields]
    assert "fields.dob" in plans["patients"].phi_dropped


def test_clinic_phone_and_email_are_proposed_as_organization_custom_fields(offline):
    records = practice()
    for row in records["locations"]:
        row["fax"] = "+61 2 9000 0001"
    fields = propose(None, records)["streams"]["locations"]["fields"]
    assert {key: fields["phone"][key] for key in ("target", "label", "field_type")} == {
        "target": "custom_fields.phone", "label": "Phone", "field_type": "phone"}
    assert {key: fields["email"][key] for key in ("target", "label", "field_type", "format")} == {
        "target": "custom_fields.email", "label": "Email", "field_type": "varchar", "format": "email"}
    # A phone-like field the defaults don't name becomes a phone custom field, not a top-level phone.
    assert (fields["fax"]["target"], fields["fax"]["field_type"]) == ("custom_fields.fax", "phone")
