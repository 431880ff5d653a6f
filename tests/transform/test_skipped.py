"""Bad input becomes a `skipped` record with a reason and a detail free of patient data."""

from __future__ import annotations

import json

from tests.transform.helpers import base_config, run_mapper, singer_lines
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
        appointment(214, 111, "pending"),                      # patient was skipped
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
        "appointments:214": "patient_missing", "reminders:510": "unknown_type",
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
