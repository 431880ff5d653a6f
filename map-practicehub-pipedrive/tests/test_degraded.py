"""Degrade the value, never the record: a bad value lands degraded and is listed at field level; only a
record that cannot exist in Pipedrive is skipped, with a reason and a detail free of patient data."""

from __future__ import annotations

import json

import pytest
from map_practicehub_pipedrive.mapping import MappingError, default_mapping
from testkit.mapper_run import base_config, run_mapper, singer_lines, write_mapping
from testkit.practice import appointment, patient, practice


def bad_practice() -> dict:
    records = practice()
    records["patients"] += [
        patient(110, "", " ", "noname@example.com"),
        patient(111, "Ivy", "Invalid", "ivy-at-example"),
        patient(112, "Dora", "Date", "dora@example.com", dob="14/07/1985"),
        patient(113, "Del", "Eted", "del@example.com", deleted=1),
        patient(114, "Long", "X" * 300, "long@example.com"),
    ]
    records["appointments"] += [
        appointment(210, 999, "pending"),                      # patient missing
        appointment(211, 101, "rescheduled"),                  # unknown status
        appointment(212, 101, "pending", start="next tuesday"),
        appointment(213, 101, "pending", type_id=77),
        appointment(214, 111, "pending"),                      # patient was skipped by this run
    ]
    records["reminders"].append({"id": 510, "appointment_id": 201, "patient_id": 101, "type": "birthday_card",
                                 "send_at": "2024-04-09 09:00:00", "status": "pending", "channel": "sms"})
    records["clinical_notes"].append({"id": 310, "patient_id": 101, "appointment_id": None, "practitioner_id": 31,
                                      "type": "SOAP", "state": "final",
                                      "data": {"soap_data": [{"key": "S", "val": "x" * 100001}]},
                                      "created": "2024-03-01 09:00:00"})
    records["files"].append({"id": 410, "patient_id": 101, "entity_type": "patient", "entity_id": 101,
                             "file_name": "card.png", "mime_type": "image/png", "size": 10, "local_path": None,
                             "download_error": "HTTP 403 fetching the signed URL"})
    records["mystery_stream"] = [{"id": 1, "secret": "Alice's diagnosis"}]
    return records


def test_a_bad_value_degrades_the_value_and_the_record_lands(tmp_path):
    output = run_mapper(base_config(tmp_path), singer_lines(bad_practice()))
    # Only records that cannot exist in Pipedrive are skipped: deleted, orphaned, never downloaded, unmapped.
    assert output.skipped() == {
        "patients:113": "deleted_in_source", "appointments:210": "patient_missing",
        "files:410": "file_not_downloaded", "mystery_stream:1": "unmapped_stream"}
    assert output.degraded() == {
        ("patients:110", "patients.name"): "missing_name",
        ("patients:111", "patients.email"): "invalid_email",
        ("patients:114", "patients.name"): "text_too_long",
        ("appointments:211", "appointments.status"): "unknown_status",
        ("appointments:212", "appointments.start"): "unparseable_date",
        ("appointments:213", "appointments.appointment_type_id"): "unknown_appointment_type",
        ("reminders:510", "reminders.type"): "unknown_type",
        ("clinical_notes:310", "clinical_notes.content"): "text_too_long"}
    persons, deals = output.by_id("persons"), output.by_id("deals")
    assert persons["patients:110"]["name"] == "PracticeHub patient 110"
    assert persons["patients:111"]["emails"] == [] and persons["patients:111"]["name"] == "Ivy Invalid"
    assert persons["patients:112"]["birthday"] == "1985-07-14"  # 14/07/1985 reads one way only
    assert len(persons["patients:114"]["name"]) == 255
    assert deals["appointments:211"]["status"] == "open" and deals["appointments:211"]["stage"] == "Scheduled"
    assert deals["appointments:212"]["expected_close_date"] is None
    assert "date unknown" in deals["appointments:212"]["title"]
    assert deals["appointments:213"]["pipeline"] == "Other appointments"
    assert deals["appointments:214"]["person_source_id"] == "patients:111"
    assert output.by_id("activities")["reminders:510"]["subject"] == "PracticeHub reminder"


def test_texts_that_could_not_land_are_kept_as_entered_on_the_record(tmp_path):
    output = run_mapper(base_config(tmp_path), singer_lines(bad_practice()))
    notes = output.by_id("notes")
    kept = notes["patients:111#as-entered"]
    assert kept["person_source_id"] == "patients:111" and "ivy-at-example" in kept["content"]
    assert "X" * 300 in notes["patients:114#as-entered"]["content"]
    assert "next tuesday" in notes["appointments:212#as-entered"]["content"]
    assert notes["appointments:212#as-entered"]["deal_source_id"] == "appointments:212"
    assert "birthday_card" in output.by_id("activities")["reminders:510"]["note"]


def test_a_note_over_the_limit_is_split_into_consecutive_parts(tmp_path):
    output = run_mapper(base_config(tmp_path), singer_lines(bad_practice()))
    notes = output.by_id("notes")
    first, second = notes["clinical_notes:310"], notes["clinical_notes:310#part-2"]
    assert first["content"].startswith("<p><em>(part 1 of 2)</em></p>")
    assert second["content"].startswith("<p><em>(part 2 of 2)</em></p>")
    assert all(len(part["content"]) <= 100000 for part in (first, second))
    assert first["add_time"] == second["add_time"] and first["person_source_id"] == second["person_source_id"]
    body = "".join(part["content"].split("</em></p>", 1)[1] for part in (first, second))
    assert body.count("x") == 100001


def test_control_characters_are_removed_and_reported(tmp_path):
    records = practice()
    records["clinical_notes"][0]["data"]["soap_data"][0]["val"] = "pain\x00 eased\x07\tnow"
    records["patients"][0]["first_name"] = "Al\x1bice"
    output = run_mapper(base_config(tmp_path), singer_lines(records))
    assert "\\u0000" not in output.text and "\\u001b" not in output.text and "\\u0007" not in output.text
    degraded = output.degraded()
    assert degraded[("patients:101", "patients.first_name")] == "control_characters"
    assert degraded[("clinical_notes:301", "clinical_notes.data.soap_data.val")] == "control_characters"
    assert output.by_id("persons")["patients:101"]["first_name"] == "Alice"


def test_the_mapping_can_drop_the_value_or_skip_the_record(tmp_path):
    data = default_mapping()
    data["streams"]["patients"]["fields"]["email"]["on_invalid"] = "skip_record"
    data["on_invalid"] = "drop_value"
    config = base_config(tmp_path, mapping_file=write_mapping(tmp_path, data))
    output = run_mapper(config, singer_lines(bad_practice()))
    assert output.skipped()["patients:111"] == "invalid_email"
    assert "appointments:212#as-entered" not in output.by_id("notes")  # drop_value keeps nothing
    assert output.degraded()[("appointments:212", "appointments.start")] == "unparseable_date"


def test_an_invalid_on_invalid_is_refused(tmp_path):
    data = default_mapping()
    data["on_invalid"] = "ignore"
    with pytest.raises(MappingError, match="on_invalid 'ignore' is not one of"):
        write_mapping(tmp_path, data)


def test_details_name_fields_never_patient_data(tmp_path):
    records = bad_practice()
    output = run_mapper(base_config(tmp_path), singer_lines(records))
    details = json.dumps(output.records["skipped"] + output.records["degraded"])
    for secret in ("ivy-at-example", "14/07/1985", "Invalid", "next tuesday", "diagnosis", "X" * 20):
        assert secret not in details


def test_reconciliation_balances_and_counts_degraded_values(tmp_path):
    output = run_mapper(base_config(tmp_path), singer_lines(bad_practice()))
    report = json.loads((tmp_path / "reports" / "reconciliation.json").read_text())
    assert report["balanced"]
    patients = report["streams"]["patients"]
    assert (patients["in"], patients["out"], patients["skipped"], patients["merged"]) == (8, 6, 1, 1)
    assert patients["degraded_values"] == {"invalid_email": 1, "missing_name": 1, "text_too_long": 1}
    assert report["records_emitted"]["skipped"] == len(output.records["skipped"]) == 4


def test_records_of_an_unexpected_shape_land_with_what_can_be_read(tmp_path):
    records = practice()
    records["patients"].append(dict(records["patients"][0], id=130, email="odd@example.com",
                                    custom_fields="mrn=1"))
    records["appointments"].append(appointment(230, {"id": 101}, "pending"))
    records["clinical_notes"].append({"id": 330, "patient_id": 101, "appointment_id": None, "data": "S: fine",
                                      "created": "2024-03-01 09:00:00"})
    records["reminders"].append({"id": 530, "appointment_id": 201, "type": ["recall"], "send_at": 5})
    output = run_mapper(base_config(tmp_path), singer_lines(records))
    assert output.degraded()[("patients:130", "patients.custom_fields")] == "invalid_custom_fields"
    assert "mrn=1" not in output.text  # custom fields that cannot be read may be PHI: nothing of them lands
    assert output.skipped()["appointments:230"] == "patient_missing"
    assert "S: fine" in output.by_id("notes")["clinical_notes:330"]["content"]
    assert "reminders:530" in output.by_id("activities") or output.skipped()["reminders:530"] == "invalid_record"
    assert json.loads((tmp_path / "reports" / "reconciliation.json").read_text())["balanced"]


def children_of_skipped_parents() -> dict:
    """Appointment 211 and invoice 711 are skipped (their patient does not exist); their notes, reminders,
    files and payments still arrive on patient 101."""
    records = practice()
    records["appointments"].append(appointment(211, 999, "pending"))
    records["clinical_notes"].append({"id": 311, "patient_id": 101, "appointment_id": 211, "practitioner_id": 31,
                                      "type": "SOAP", "state": "final", "data": {"soap_data": []},
                                      "created": "2024-03-01 09:00:00"})
    records["reminders"].append({"id": 511, "appointment_id": 211, "patient_id": 101, "type": "recall",
                                 "send_at": "2024-04-09 09:00:00", "status": "pending", "channel": "sms"})
    records["files"] += [
        {"id": 411, "patient_id": 101, "entity_type": "appointment", "entity_id": 211, "file_name": "x.pdf",
         "mime_type": "application/pdf", "size": 1, "local_path": "/tmp/411.pdf", "sha256": "cd" * 32},
        {"id": 412, "patient_id": 101, "entity_type": "clinical_note", "entity_id": 311, "file_name": "y.pdf",
         "mime_type": "application/pdf", "size": 1, "local_path": "/tmp/412.pdf", "sha256": "ef" * 32}]
    records["invoices"].append({"id": 711, "patient_id": 999, "appointment_id": 211, "number": "INV-711",
                                "status": "open", "total": "90.00", "created": "2024-03-01 09:00:00"})
    records["invoices"].append({"id": 712, "patient_id": 101, "appointment_id": 211, "number": "INV-712",
                                "status": "open", "total": "10.00", "created": "2024-03-01 09:00:00"})
    records["payments"] += [
        {"id": 811, "patient_id": "101", "invoice_id": 711, "amount": "5.00", "payment_type_id": 1,
         "service": "x", "note": None, "created": "2024-03-01 09:00:00"},
        {"id": 812, "patient_id": "101", "invoice_id": 712, "amount": "5.00", "payment_type_id": 1,
         "service": "x", "note": None, "created": "2024-03-01 09:00:00"}]
    return records


def test_children_of_a_skipped_parent_go_on_the_person_or_are_skipped_as_the_mapping_says(tmp_path):
    output = run_mapper(base_config(tmp_path), singer_lines(children_of_skipped_parents()))
    skipped = {record["source_id"]: record for record in output.records["skipped"]}
    assert skipped["appointments:211"]["reason"] == "patient_missing"
    assert skipped["invoices:711"]["reason"] == "patient_missing"
    # reminders: when_parent_skipped skip (a task for an appointment that is not in Pipedrive)
    assert skipped["reminders:511"]["reason"] == "parent_skipped"
    assert skipped["reminders:511"]["detail"] == "reminders refers to appointments:211, which this run skipped"
    # clinical notes, files, invoices, payments: when_parent_skipped person
    notes, files = output.by_id("notes"), output.by_id("files")
    for record in (notes["clinical_notes:311"], notes["invoices:712"], notes["payments:812"], notes["payments:811"],
                   files["files:411"], files["files:412"]):
        assert (record["deal_source_id"], record["person_source_id"]) == (None, "patients:101")
    emitted_deals = set(output.by_id("deals"))
    assert all(record["deal_source_id"] in (None, *emitted_deals)
               for stream in ("notes", "activities", "files") for record in output.records[stream])


def test_with_when_parent_skipped_skip_every_child_is_listed_with_the_parent_id(tmp_path):
    data = default_mapping()
    for stream in ("clinical_notes", "files", "invoices", "payments"):
        data["streams"][stream]["when_parent_skipped"] = "skip"
    config = base_config(tmp_path, mapping_file=write_mapping(tmp_path, data))
    output = run_mapper(config, singer_lines(children_of_skipped_parents()))
    skipped = {record["source_id"]: record for record in output.records["skipped"]}
    assert {sid: skipped[sid]["reason"] for sid in ("clinical_notes:311", "files:411", "files:412",
                                                   "invoices:712", "payments:811", "payments:812")} == dict.fromkeys(
        ("clinical_notes:311", "files:411", "files:412", "invoices:712", "payments:811", "payments:812"),
        "parent_skipped")
    assert skipped["payments:811"]["detail"] == "payments refers to invoices:711, which this run skipped"
    assert skipped["files:412"]["detail"] == "files refers to clinical_notes:311, which this run skipped"
    report = json.loads((tmp_path / "reports" / "reconciliation.json").read_text())
    assert report["balanced"] and report["streams"]["files"]["skip_reasons"] == {"parent_skipped": 2}


def test_children_of_a_skipped_patient_are_skipped_as_parent_skipped(tmp_path):
    records = practice()
    records["patients"].append(patient(113, "Del", "Eted", "del@example.com", deleted=1))
    records["appointments"].append(appointment(213, 113, "pending"))
    records["reminders"].append({"id": 513, "appointment_id": 213, "patient_id": 113, "type": "recall",
                                 "send_at": "2024-04-09 09:00:00", "status": "pending", "channel": "sms"})
    output = run_mapper(base_config(tmp_path), singer_lines(records))
    skipped = {record["source_id"]: record for record in output.records["skipped"]}
    assert skipped["patients:113"]["reason"] == "deleted_in_source"
    assert skipped["appointments:213"]["detail"] == "appointments refers to patients:113, which this run skipped"
    assert skipped["reminders:513"]["reason"] == "parent_skipped"
    assert "Eted" not in " ".join(record["detail"] for record in skipped.values())


def test_invalid_when_parent_skipped_is_refused(tmp_path):
    data = default_mapping()
    data["streams"]["reminders"]["when_parent_skipped"] = "deal"
    with pytest.raises(MappingError, match="when_parent_skipped 'deal' is not one of"):
        write_mapping(tmp_path, data)
