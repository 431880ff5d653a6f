"""Patient Library assets → one file per assigned person; prescriptions → a note keeping the pharmacy reference."""

from __future__ import annotations

import json

from testkit.mapper_run import base_config, run_mapper, singer_lines
from testkit.practice import STAMP, patient, practice


def asset(asset_id: int, patient_ids, **fields) -> dict:
    record = {"id": asset_id, "title": "Knee rehab stretches", "kind": "exercise_sheet",
              "file_name": f"knee-{asset_id}.pdf", "mime_type": "application/pdf", "size": 2048,
              "description": None, "url": "https://blobs.example/x?signature=secret", "patient_ids": patient_ids,
              "local_path": f"/tmp/library/{asset_id}.pdf", "downloaded_size": 2048, "sha256": "ab" * 32,
              "download_error": None, **STAMP}
    record.update(fields)
    return record


def prescription(rx_id: int, patient_id: int, appointment_id: int | None, **fields) -> dict:
    record = {"id": rx_id, "patient_id": patient_id, "practitioner_id": 31, "appointment_id": appointment_id,
              "medication": "Naproxen 250 mg tablets", "quantity": 28, "directions": "Twice a day with food.",
              "status": "sent_to_pharmacy", "pharmacy_name": "Well Pharmacy",
              "pharmacy_order_reference": "WELL-481516-023", "pharmacy_status": "ready_for_collection",
              "prescribed_on": "2024-04-02", "dispensed_at": None, **STAMP}
    record.update(fields)
    return record


def with_assumed(**extra) -> dict:
    records = practice()
    records["patients"].append(patient(113, "Del", "Eted", "del@example.com", deleted=1))
    records["patient_library"] = [
        asset(601, [101, 102]),          # two patients: two uploads
        asset(602, [101, 103]),          # 103 was merged into 101: one upload
        asset(603, [102, 113, 999]),     # a deleted and an unknown patient: those assignments only are dropped
        asset(604, []),                  # shared with nobody
        asset(605, [102], file_name=""),  # no name: a generated one
        asset(606, [101], local_path=None, download_error="HTTP 403 fetching the signed URL"),
    ]
    records["prescriptions"] = [
        prescription(701, 101, 202),
        prescription(702, 102, None, status="draft", pharmacy_name=None, pharmacy_order_reference=None,
                     pharmacy_status=None),
        prescription(703, 101, 202, status="dispensed", pharmacy_status="collected",
                     dispensed_at="yesterday afternoon"),
        prescription(704, 101, 299),  # an appointment that was never migrated: on the person
    ]
    records.update(extra)
    return records


def test_a_library_asset_is_one_upload_per_assigned_person(tmp_path):
    out = run_mapper(base_config(tmp_path), singer_lines(with_assumed()))
    files = out.by_id("files")
    library = {sid: f for sid, f in files.items() if sid.startswith("patient_library:")}
    assert set(library) == {
        "patient_library:601#patients:101", "patient_library:601#patients:102",
        "patient_library:602#patients:101",
        "patient_library:603#patients:102",
        "patient_library:605#patients:102",
    }
    upload = library["patient_library:601#patients:102"]
    assert upload["person_source_id"] == "patients:102" and upload["deal_source_id"] is None
    assert upload["local_path"] == "/tmp/library/601.pdf" and upload["sha256"] == "ab" * 32
    assert upload["custom_fields"]["practicehub_id"] == "patient_library:601#patients:102"
    assert "url" not in upload
    assert library["patient_library:605#patients:102"]["file_name"] == "practicehub-file-605.pdf"
    skipped = out.skipped()
    assert skipped["patient_library:604"] == "not_assigned"
    assert skipped["patient_library:606"] == "file_not_downloaded"
    degraded = [(r["source_id"], r["field"], r["reason"]) for r in out.records["degraded"]]
    assert ("patient_library:603", "patient_library.patient_ids", "parent_skipped") in degraded
    assert ("patient_library:603", "patient_library.patient_ids", "patient_missing") in degraded
    assert ("patient_library:605", "patient_library.file_name", "missing_file_name") in degraded


def test_a_prescription_keeps_the_pharmacy_reference_readable(tmp_path):
    out = run_mapper(base_config(tmp_path), singer_lines(with_assumed()))
    notes = out.by_id("notes")
    sent = notes["prescriptions:701"]
    assert sent["deal_source_id"] == "appointments:202" and sent["person_source_id"] == "patients:101"
    assert "Well Pharmacy" in sent["content"] and "WELL-481516-023" in sent["content"]
    assert "ready_for_collection" in sent["content"] and "Naproxen 250 mg tablets" in sent["content"]
    assert sent["owner_source_id"] == "practitioners:31"
    assert "Not sent to an external pharmacy" in notes["prescriptions:702"]["content"]
    assert notes["prescriptions:702"]["deal_source_id"] is None
    # An unreadable dispense time: the note lands, the text as entered kept at its end.
    dispensed = notes["prescriptions:703"]
    assert "Kept as entered" in dispensed["content"] and "yesterday afternoon" in dispensed["content"]
    assert out.degraded()[("prescriptions:703", "prescriptions.dispensed_at")] == "unparseable_date"
    assert notes["prescriptions:704"]["deal_source_id"] is None


def test_both_are_phi_left_out_under_exclude(tmp_path):
    out = run_mapper(base_config(tmp_path, phi_policy="exclude"), singer_lines(with_assumed()))
    skipped = out.skipped()
    for source_id in ("patient_library:601", "patient_library:604", "prescriptions:701", "prescriptions:702"):
        assert skipped[source_id] == "phi_excluded"
    assert not [sid for sid in out.by_id("files") if sid.startswith("patient_library:")]
    assert not [sid for sid in out.by_id("notes") if sid.startswith("prescriptions:")]


def test_reconciliation_counts_each_source_record_once(tmp_path):
    run_mapper(base_config(tmp_path), singer_lines(with_assumed()))
    report = json.loads((tmp_path / "reports" / "reconciliation.json").read_text())
    library, prescriptions = report["streams"]["patient_library"], report["streams"]["prescriptions"]
    assert (library["in"], library["out"], library["skipped"]) == (6, 4, 2)
    assert library["balanced"] and prescriptions["balanced"]
    assert (prescriptions["in"], prescriptions["out"]) == (4, 4)
