"""Bad input becomes a `skipped` record with a reason and a detail free of patient data."""

from __future__ import annotations

import json

import pytest
from practicehub_pipedrive.mapping import MappingError, default_mapping

from tests.transform.helpers import base_config, run_mapper, singer_lines, write_mapping
from tests.transform.practice import appointment, patient, practice


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


def test_each_kind_of_bad_input_has_its_reason(tmp_path):
    output = run_mapper(base_config(tmp_path), singer_lines(bad_practice()))
    assert output.skipped() == {
        "patients:110": "missing_name", "patients:111": "invalid_email", "patients:112": "unparseable_date",
        "patients:113": "deleted_in_source", "patients:114": "text_too_long",
        "appointments:210": "patient_missing", "appointments:211": "unknown_status",
        "appointments:212": "unparseable_date", "appointments:213": "unknown_appointment_type",
        "appointments:214": "parent_skipped", "reminders:510": "unknown_type",
        "clinical_notes:310": "text_too_long", "files:410": "file_not_downloaded",
        "mystery_stream:1": "unmapped_stream"}


def test_details_name_fields_never_patient_data(tmp_path):
    records = bad_practice()
    output = run_mapper(base_config(tmp_path), singer_lines(records))
    details = " ".join(record["detail"] for record in output.records["skipped"])
    for secret in ("ivy-at-example", "14/07/1985", "Invalid", "next tuesday", "diagnosis", "X" * 20):
        assert secret not in details
    assert "patients.dob is not a date" in details


def test_reconciliation_balances_with_skips(tmp_path):
    output = run_mapper(base_config(tmp_path), singer_lines(bad_practice()))
    report = json.loads((tmp_path / "reports" / "reconciliation.json").read_text())
    assert report["balanced"]
    patients = report["streams"]["patients"]
    assert (patients["in"], patients["out"], patients["skipped"], patients["merged"]) == (8, 2, 5, 1)
    assert report["records_emitted"]["skipped"] == len(output.records["skipped"]) == 14


def test_records_of_an_unexpected_shape_are_skipped_not_fatal(tmp_path):
    records = practice()
    records["patients"].append(dict(records["patients"][0], id=130, email="odd@example.com",
                                    custom_fields="mrn=1"))
    records["appointments"].append(appointment(230, {"id": 101}, "pending"))
    records["clinical_notes"].append({"id": 330, "patient_id": 101, "appointment_id": None, "data": "S: fine",
                                      "created": "2024-03-01 09:00:00"})
    records["reminders"].append({"id": 530, "appointment_id": 201, "type": ["recall"], "send_at": 5})
    output = run_mapper(base_config(tmp_path), singer_lines(records))
    skipped = output.skipped()
    assert skipped["patients:130"] == "invalid_custom_fields"
    assert skipped["appointments:230"] == "patient_missing"
    assert skipped["reminders:530"] in ("invalid_record", "unknown_type")
    assert "clinical_notes:330" in output.by_id("notes")  # data that is not SOAP renders the heading only
    assert json.loads((tmp_path / "reports" / "reconciliation.json").read_text())["balanced"]


def children_of_skipped_parents() -> dict:
    """Appointment 211 (unknown status) and invoice 711 (text too long) are skipped; their notes, reminders,
    files and payments still arrive."""
    records = practice()
    records["appointments"].append(appointment(211, 101, "rescheduled"))
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
    records["invoices"].append({"id": 711, "patient_id": 101, "appointment_id": 211, "number": "INV-711",
                                "status": "open", "total": "9" * 100001, "created": "2024-03-01 09:00:00"})
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
    assert skipped["appointments:211"]["reason"] == "unknown_status"
    assert skipped["invoices:711"]["reason"] == "text_too_long"
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
