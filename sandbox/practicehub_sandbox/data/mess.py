"""Ordinary real-world mess for the demo practice: the values a real PracticeHub account holds.

A handful of each kind, at fixed positions so the demo is the same every time: an email typed as words,
a date of birth written day-first, an appointment whose type was deleted, a clinical note longer than
a Pipedrive note, attachments with no name or an unsafe one, and control characters pasted into text;
in the assumed resources, a library asset with no name and one still shared with a deleted patient, and
prescriptions with a pharmacy reference pasted with a control character, an unreadable date and an
appointment that no longer exists.
"""

from __future__ import annotations

DELETED_APPOINTMENT_TYPE = 99_999
DELETED_APPOINTMENT = 99_998


def add_mess(data: dict[str, list[dict]]) -> dict[str, list[dict]]:
    patients = [row for row in data["patients"] if not row.get("deleted")]
    for row, email in zip(patients[3:5], ("front desk - ask at reception", "j.smith at example dot com"),
                          strict=False):
        row["email"] = email
    for row in patients[6:8]:
        if row.get("dob"):
            year, month, day = row["dob"].split("-")
            row["dob"] = f"{day}/{month}/{year}"  # as typed in the UK
    if len(patients) > 9:
        patients[9]["last_name"] = f"{patients[9]['last_name']}\x00"
    for row in data["appointments"][10:12]:
        row["appointment_type_id"] = DELETED_APPOINTMENT_TYPE
    notes = data["clinical_notes"]
    if notes:
        soap = notes[0]["data"]["soap_data"]
        soap[0]["val"] = "<p>" + " ".join(["Long history taken over several sessions."] * 2_600) + "</p>"
    if len(notes) > 1:
        notes[1]["data"]["soap_data"][0]["val"] = "<p>Pain eased\x07 after\x1b exercises</p>"
    for row, name in zip(data["files"][:3], ("", "   ", "scan:2024/03\\knee?.pdf"), strict=False):
        row["file_name"] = name
    _mess_assumed(data)
    return data


def _mess_assumed(data: dict[str, list[dict]]) -> None:
    library, prescriptions = data.get("patient_library") or [], data.get("prescriptions") or []
    deleted = [row["id"] for row in data["patients"] if row.get("deleted")]
    for row, name in zip(library[:2], ("", "exercises: week 1/2?.pdf"), strict=False):
        row["file_name"] = name
    if len(library) > 2 and deleted:
        library[2]["patient_ids"] = sorted({*library[2]["patient_ids"], deleted[0]})
    sent = [row for row in prescriptions if row.get("pharmacy_order_reference")]
    if sent:
        sent[0]["pharmacy_order_reference"] = f"{sent[0]['pharmacy_order_reference']}\x1b"
    if len(sent) > 1:
        sent[1]["dispensed_at"] = "yesterday afternoon"
    if len(prescriptions) > 5:
        prescriptions[5]["appointment_id"] = DELETED_APPOINTMENT
