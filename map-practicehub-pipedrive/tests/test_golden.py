"""One golden test per mapping row: hand-written PracticeHub records in, exact Pipedrive records out.

The golden practice (test-support/testkit/practice.py) runs in Australia/Sydney time (UTC+11 in March,
UTC+10 in April) with currency AUD and phi_policy include.
"""

from __future__ import annotations

import json

OWNER_PAUL = {"owner_email": "paul@harbourphysio.example", "owner_name": "Paul Practitioner",
              "owner_source_id": "practitioners:31"}
NO_OWNER = {"owner_email": None, "owner_name": None, "owner_source_id": None}


def test_1_patient_becomes_person_with_contact_details(golden):
    alice = golden.by_id("persons")["patients:101"]
    assert {key: alice[key] for key in ("source_id", "name", "first_name", "last_name", "emails", "phones",
                                        "postal_address", "birthday", "org_source_id")} == {
        "source_id": "patients:101", "name": "Alice Anders", "first_name": "Alice", "last_name": "Anders",
        "emails": [{"value": "alice@example.com", "primary": True, "label": "work"}],
        "phones": [{"value": "+61 400 000 001", "primary": True, "label": "mobile"}],
        "postal_address": {"value": "5 Beach Rd, Bondi 2026, Australia", "street": "5 Beach Rd",
                           "locality": "Bondi", "postal_code": "2026", "country": "Australia"},
        "birthday": "1985-07-14", "org_source_id": "locations:11"}
    assert {key: alice[key] for key in NO_OWNER} == NO_OWNER


def test_2_practitioner_is_carried_as_owner_email_for_the_target_to_resolve(golden):
    deals = golden.by_id("deals")
    assert {key: deals["appointments:201"][key] for key in OWNER_PAUL} == OWNER_PAUL
    # No email on the practitioner: the name and source id still travel for the fallback report.
    assert {key: deals["appointments:203"][key] for key in OWNER_PAUL} == {
        "owner_email": None, "owner_name": "Nora Noemail", "owner_source_id": "practitioners:32"}


def test_3_appointment_becomes_deal_with_title_value_and_dates(golden):
    assert golden.by_id("deals")["appointments:202"] == {
        "source_id": "appointments:202", "title": "Initial Consultation — 2024-04-10 09:30", "value": 120.0,
        "currency": "AUD", "pipeline": "Initial Consultation", "stage": "Completed", "status": "won",
        "lost_reason": None, "expected_close_date": "2024-04-10", "close_time": "2024-04-10T00:30:00Z",
        "won_time": "2024-04-10T00:30:00Z", "lost_time": None, "person_source_id": "patients:101",
        "org_source_id": "locations:11", **OWNER_PAUL,
        "custom_fields": {"practicehub_id": "appointments:202", "appointment_type": "Initial Consultation",
                          "appointment_start_at": "2024-04-09T23:30:00Z", "deal_created_date": "2024-03-01",
                          "deal_created_at": "2024-02-29T22:00:00Z"}}
    # No fee: value 0 and a note on the deal saying so (with the appointment's own note).
    assert golden.by_id("deals")["appointments:203"]["value"] == 0.0
    assert golden.by_id("notes")["appointments:203"] == {
        "source_id": "appointments:203",
        "content": "<p>No fee recorded in PracticeHub (appointment type: Follow-up).</p><p>Rebook next week</p>",
        "add_time": "2024-02-29 22:00:00", "pinned": False, "deal_source_id": "appointments:203",
        "person_source_id": "patients:102", "org_source_id": None, "owner_email": None,
        "owner_name": "Nora Noemail", "owner_source_id": "practitioners:32",
        "custom_fields": {"practicehub_id": "appointments:203"}}


def test_4_status_maps_to_pipeline_stage_and_outcome(golden):
    deals = golden.by_id("deals")
    outcome = {sid: (d["pipeline"], d["stage"], d["status"], d["lost_reason"], d["lost_time"])
               for sid, d in deals.items()}
    assert outcome == {
        "appointments:201": ("Initial Consultation", "Scheduled", "open", None, None),
        "appointments:202": ("Initial Consultation", "Completed", "won", None, None),
        "appointments:203": ("Follow-up", "Scheduled", "lost", "Cancelled", "2024-04-09T07:00:00Z"),
        "appointments:204": ("Initial Consultation", "Arrived", "lost", "Missed (no-show)", "2024-04-09T23:30:00Z"),
    }
    stages = [{"name": "Scheduled", "order": 1}, {"name": "Arrived", "order": 2}, {"name": "Completed", "order": 3}]
    assert golden.schemas["deals"]["schema"]["x-pipedrive-pipelines"] == [
        {"name": "Initial Consultation", "stages": stages}, {"name": "Follow-up", "stages": stages}]


def test_5_location_becomes_healthcare_organization(golden):
    assert golden.by_id("organizations")["locations:11"] == {
        "source_id": "locations:11", "name": "Harbour Physio",
        "address": {"value": "1 Quay St, Level 2, Sydney 2000, Australia", "street": "1 Quay St, Level 2",
                    "locality": "Sydney", "postal_code": "2000", "country": "Australia"},
        "website": "harbourphysio.example", "industry": "Healthcare", **NO_OWNER,
        # v2 organizations have no phone/email fields: custom fields carry them (the target creates them).
        "custom_fields": {"practicehub_id": "locations:11", "phone": "+61 2 9000 0000",
                          "email": "front@harbourphysio.example", "practicehub_created_date": "2024-03-01",
                          "practicehub_created_at": "2024-02-29T22:00:00Z"}}
    assert golden.by_id("organizations")["locations:12"]["custom_fields"]["phone"] is None
    fields = golden.schemas["organizations"]["schema"]["properties"]["custom_fields"]["properties"]
    assert fields["phone"]["x-pipedrive-field"] == {"name": "Phone", "field_type": "phone", "options": None,
                                                    "phi": False}
    assert fields["email"]["x-pipedrive-field"] == {"name": "Email", "field_type": "varchar", "options": None,
                                                    "phi": False}
    top_level = golden.schemas["organizations"]["schema"]["properties"]
    assert "phone" not in top_level and "email" not in top_level


def test_6_patient_custom_fields_become_person_custom_fields_with_enum_options(golden):
    fields = golden.schemas["persons"]["schema"]["properties"]["custom_fields"]["properties"]
    assert fields["preferred_contact"]["x-pipedrive-field"] == {
        "name": "Preferred contact method", "field_type": "enum", "options": ["Email", "SMS", "Phone"], "phi": False}
    assert fields["mrn"]["x-pipedrive-field"] == {
        "name": "Medical record number", "field_type": "varchar", "options": None, "phi": True}
    custom = golden.by_id("persons")["patients:102"]["custom_fields"]
    assert (custom["preferred_contact"], custom["mrn"], custom["marketing_consent"]) == ("Email", "MRN-102", None)


def test_7_clinical_notes_go_on_the_deal_or_person_with_utc_add_time_and_files(golden):
    notes = golden.by_id("notes")
    assert notes["clinical_notes:301"] == {
        "source_id": "clinical_notes:301",
        "content": "<h3>SOAP (final)</h3><h4>Subjective</h4><p>Sore knee</p><h4>Plan</h4><p>Exercises</p>",
        "add_time": "2024-02-29 22:00:00", "pinned": False, "deal_source_id": "appointments:202",
        "person_source_id": "patients:101", "org_source_id": None, **OWNER_PAUL,
        "custom_fields": {"practicehub_id": "clinical_notes:301"}}
    assert (notes["clinical_notes:302"]["deal_source_id"], notes["clinical_notes:302"]["person_source_id"]) == (
        None, "patients:102")
    assert golden.by_id("files")["files:401"] == {
        "source_id": "files:401", "file_name": "knee.pdf", "mime_type": "application/pdf", "size": 2048,
        "sha256": "ab" * 32, "local_path": "/tmp/files/401.pdf", "deal_source_id": "appointments:202",
        "person_source_id": "patients:101", "org_source_id": None, **NO_OWNER,
        "custom_fields": {"practicehub_id": "files:401"}}


def test_8_reminders_become_tasks_on_the_deal(golden):
    assert golden.by_id("activities")["reminders:501"] == {
        "source_id": "reminders:501", "subject": "Confirm appointment", "type": "task",
        "due_date": "2024-04-08", "due_time": "23:00", "duration": None, "done": True,
        "note": "PracticeHub reminder by sms, status actioned.", "deal_source_id": "appointments:201",
        "person_source_id": "patients:101", "org_source_id": None, **OWNER_PAUL,
        "custom_fields": {"practicehub_id": "reminders:501"}}
    assert golden.by_id("activities")["reminders:502"]["done"] is False


def test_9_referral_source_is_an_enum_of_the_exact_labels(golden):
    field = golden.schemas["persons"]["schema"]["properties"]["custom_fields"]["properties"]["referral_source"]
    assert field["x-pipedrive-field"]["field_type"] == "enum"
    assert field["x-pipedrive-field"]["options"] == ["Google", "Friend"]
    persons = golden.by_id("persons")
    assert [persons[s]["custom_fields"]["referral_source"] for s in ("patients:101", "patients:102")] == [
        "Google", "Friend"]


def test_10_insurance_carrier_is_a_field_and_links_the_matching_organization(golden):
    custom = golden.by_id("persons")["patients:101"]["custom_fields"]
    assert custom["insurance_carrier"] == "Blue Shield Health"
    assert custom["insurance_carrier_org"] == {"source_id": "locations:12"}


def test_11_12_created_and_updated_are_a_date_plus_an_exact_utc_instant(golden):
    custom = golden.by_id("persons")["patients:101"]["custom_fields"]
    assert {key: custom[key] for key in custom if key.startswith("patient_created") or key.startswith(
        "patient_updated")} == {
        "patient_created_date": "2024-03-01", "patient_created_at": "2024-02-29T22:00:00Z",
        "patient_updated_date": "2024-03-02", "patient_updated_at": "2024-03-01T23:30:00Z"}


def test_13_mrn_is_a_phi_text_field(golden):
    assert golden.by_id("persons")["patients:101"]["custom_fields"]["mrn"] == "MRN-101"
    described = golden.schemas["persons"]["schema"]["properties"]["custom_fields"]["properties"]["mrn"]
    assert described["x-pipedrive-field"]["phi"] is True


def test_14_date_of_birth_is_birthday_and_nulls_stay_null(golden):
    persons = golden.by_id("persons")
    assert persons["patients:101"]["birthday"] == "1985-07-14"
    assert persons["patients:102"]["birthday"] is None


def test_15_appointment_type_is_a_deal_enum_field(golden):
    field = golden.schemas["deals"]["schema"]["properties"]["custom_fields"]["properties"]["appointment_type"]
    assert field["x-pipedrive-field"] == {"name": "Appointment type", "field_type": "enum",
                                          "options": ["Initial Consultation", "Follow-up"], "phi": False}
    assert golden.by_id("deals")["appointments:203"]["custom_fields"]["appointment_type"] == "Follow-up"


def test_16_practitioner_owns_deals_activities_and_notes(golden):
    assert golden.by_id("deals")["appointments:204"]["owner_email"] == "paul@harbourphysio.example"
    assert golden.by_id("activities")["reminders:502"]["owner_email"] == "paul@harbourphysio.example"
    assert golden.by_id("notes")["care_plans:1001"]["owner_email"] == "paul@harbourphysio.example"


def test_17_every_entity_carries_practicehub_id(golden):
    for stream in ("organizations", "persons", "deals", "activities", "notes", "files"):
        records = golden.records[stream]
        assert records and all(r["custom_fields"]["practicehub_id"] == r["source_id"] for r in records)
        field = golden.schemas[stream]["schema"]["properties"]["custom_fields"]["properties"]["practicehub_id"]
        assert field["x-pipedrive-field"]["field_type"] == "varchar"


def test_18_workflows_are_documented_not_loaded(golden):
    guide = json.loads((golden.reports / "workflows.json").read_text())
    assert guide["summary"] == {"workflows": 1, "active": 1, "automation_cap": 50, "over_cap_by": 0}
    assert guide["workflows"][0]["pipedrive_steps"] == [
        "Trigger: Deal created (PracticeHub event appointment_created)",
        "Condition: appointment_type eq Initial Consultation",
        "No built-in SMS action: use 'Send webhook' to an SMS provider, or a Marketplace SMS app; "
        "template: booking_confirmation",
        "Step 'Delay' of 1440 minutes",
        "Action 'Create activity' with type Task, assigned to practitioner"]
    markdown = (golden.reports / "workflows.md").read_text()
    assert "## Confirm new bookings (workflows:601, active)" in markdown
    reconciliation = json.loads((golden.reports / "reconciliation.json").read_text())
    assert reconciliation["streams"]["workflows"]["documented"] == 1
    assert not any("workflows" in record["source_id"] for stream in golden.records.values() for record in stream)


def test_other_resources_are_mapped_or_accounted(golden):
    notes = golden.by_id("notes")
    assert notes["invoices:701"]["content"] == "<p>Invoice INV-701: paid, total 120.00 AUD</p>"
    assert notes["payments:801"]["deal_source_id"] == "appointments:202"
    assert notes["patient_packages:901"]["person_source_id"] == "patients:102"
    assert notes["custom_form_responses:1201"]["content"] == (
        "<h3>Intake (completed)</h3><p><strong>Allergies?</strong><br>None</p>")
    streams = json.loads((golden.reports / "reconciliation.json").read_text())["streams"]
    assert {name: (row["reference"], row["consumed"]) for name, row in streams.items()
            if row["reference"] or row["consumed"]} == {
        "appointment_types": (2, 0), "patient_custom_fields": (4, 0), "payment_methods": (1, 0),
        "practitioners": (2, 0), "users": (1, 0), "patient_logs": (0, 1)}
    assert all(row["balanced"] for row in streams.values())


def test_merged_patient_points_deals_and_activities_at_the_survivor(golden):
    assert golden.by_id("deals")["appointments:204"]["person_source_id"] == "patients:101"
    assert golden.by_id("activities")["reminders:502"]["person_source_id"] == "patients:101"
    assert golden.by_id("persons")["patients:101"]["merged_source_ids"] == ["patients:103"]
    assert "patients:103" not in golden.by_id("persons")
