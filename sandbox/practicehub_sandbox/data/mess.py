"""Ordinary real-world mess for the demo practice: the values a real PracticeHub account holds.

A handful of each kind, at fixed positions so the demo is the same every time: an email typed as words,
a date of birth written day-first, an appointment whose type was deleted, a clinical note longer than
a Pipedrive note, attachments with no name or an unsafe one, and control characters pasted into text.
"""

from __future__ import annotations

DELETED_APPOINTMENT_TYPE = 99_999


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
    return data
