"""A small hand-written PracticeHub practice (golden input), shaped as tap-practicehub/RESOURCES.md says."""

from __future__ import annotations

import copy

TAP_ORDER = ["locations", "patient_custom_fields", "users", "practitioners", "appointment_types", "patients",
             "appointments", "clinical_notes", "files", "reminders", "workflows", "invoices", "payments",
             "payment_methods", "patient_packages", "care_plans", "patient_logs", "custom_form_responses"]

STAMP = {"created": "2024-03-01 09:00:00", "updated": "2024-03-02 10:30:00"}

LOCATION = {"id": 11, "name": "Harbour Physio", "address_line_1": "1 Quay St", "address_line_2": "Level 2",
            "city": "Sydney", "postcode": "2000", "country": "Australia", "phone": "+61 2 9000 0000",
            "email": "front@harbourphysio.example", "website": "harbourphysio.example", **STAMP}
INSURER = {"id": 12, "name": "Blue Shield Health", "address_line_1": None, "address_line_2": None, "city": None,
           "postcode": None, "country": None, "phone": None, "email": None, "website": "blueshield.example",
           **STAMP}

CUSTOM_FIELDS = [
    {"id": 1, "name": "mrn", "label": "Medical record number", "field_type": "text", "options": [], "phi": 1},
    {"id": 2, "name": "insurance_carrier", "label": "Insurance carrier", "field_type": "text", "options": [],
     "phi": 1},
    {"id": 3, "name": "preferred_contact", "label": "Preferred contact", "field_type": "select",
     "options": ["Email", "SMS", "Phone"], "phi": 0},
    {"id": 4, "name": "marketing_consent", "label": "Marketing consent", "field_type": "select",
     "options": ["Yes", "No"], "phi": 0},
]
USER = {"id": 21, "first_name": "Rita", "last_name": "Reception", "email": "rita@harbourphysio.example",
        "role": "receptionist", "active": 1, **STAMP}
PRACTITIONER = {"id": 31, "title": "Dr", "first_name": "Paul", "last_name": "Practitioner",
                "email": "paul@harbourphysio.example", "active": 1, **STAMP}
PRACTITIONER_NO_EMAIL = {"id": 32, "title": None, "first_name": "Nora", "last_name": "Noemail", "email": None,
                         "active": 1, **STAMP}
TYPE_INITIAL = {"id": 41, "name": "Initial Consultation", "duration": 60, "price": "120.00", **STAMP}
TYPE_FOLLOW = {"id": 42, "name": "Follow-up", "duration": 30, "price": None, **STAMP}


def patient(pid: int, first: str, last: str, email: str | None, **extra: object) -> dict:
    record = {"id": pid, "patient_number": f"P{pid:05d}", "title": "Ms", "first_name": first, "last_name": last,
              "email": email, "dob": "1985-07-14", "sex": "Female", "mobile": "+61 400 000 001",
              "phone": None, "address_line_1": "5 Beach Rd", "address_line_2": None, "city": "Bondi",
              "postcode": "2026", "country": "Australia", "status": "active", "deleted": 0,
              "referral_source": "Google", "location_id": 11,
              "custom_fields": [{"name": "mrn", "label": "Medical record number", "value": f"MRN-{pid}"},
                                {"name": "insurance_carrier", "label": "Insurance carrier",
                                 "value": "Blue Shield Health"},
                                {"name": "preferred_contact", "label": "Preferred contact", "value": "Email"}],
              **STAMP}
    record.update(extra)
    return record


def appointment(aid: int, patient_id: int, status: str, type_id: int = 41, fee: str | None = "120.00",
                **extra: object) -> dict:
    record = {"id": aid, "patient_id": patient_id, "practitioner_id": 31, "appointment_type_id": type_id,
              "location_id": 11, "start": "2024-04-10 09:30:00", "end": "2024-04-10 10:30:00", "status": status,
              "cancelDate": None, "fee": fee, "note": None, **STAMP}
    record.update(extra)
    return record


def practice() -> dict[str, list[dict]]:
    """Every resource, a few records each: good ones plus the bad input the mapper must skip."""
    return copy.deepcopy({
        "locations": [LOCATION, INSURER],
        "patient_custom_fields": [{**field, **STAMP} for field in CUSTOM_FIELDS],
        "users": [USER],
        "practitioners": [PRACTITIONER, PRACTITIONER_NO_EMAIL],
        "appointment_types": [TYPE_INITIAL, TYPE_FOLLOW],
        "patients": [
            patient(101, "Alice", "Anders", "alice@example.com"),
            patient(102, "Bob", "Brown", "bob@example.com", referral_source="Friend", dob=None),
            # 101 again: the same email, name (order, case and spaces aside) and date of birth
            patient(103, "ANDERS", " alice ", "  ALICE@Example.com "),
        ],
        "appointments": [
            appointment(201, 101, "pending"),
            appointment(202, 101, "processed"),
            appointment(203, 102, "cancelled", type_id=42, fee=None, cancelDate="2024-04-09 17:00:00",
                        practitioner_id=32, note="Rebook next week"),
            appointment(204, 103, "missed"),
        ],
        "clinical_notes": [
            {"id": 301, "patient_id": 101, "appointment_id": 202, "practitioner_id": 31, "type": "SOAP",
             "state": "final", "data": {"soap_data": [{"key": "Subjective", "val": "<p>Sore knee</p>"},
                                                      {"key": "Plan", "val": "<p>Exercises</p>"}]}, **STAMP},
            {"id": 302, "patient_id": 102, "appointment_id": None, "practitioner_id": 31, "type": "Progress",
             "state": "draft", "data": {"soap_data": []}, **STAMP},
        ],
        "files": [
            {"id": 401, "patient_id": 101, "entity_type": "clinical_note", "entity_id": 301,
             "file_name": "knee.pdf", "file_type": "pdf", "mime_type": "application/pdf", "size": 2048,
             "description": "scan", "url": "http://127.0.0.1:1/_blobs/401?expires=1&signature=abc",
             "local_path": "/tmp/files/401.pdf", "sha256": "ab" * 32, **STAMP},
        ],
        "reminders": [
            {"id": 501, "appointment_id": 201, "patient_id": 101, "type": "appointment_confirmation",
             "send_at": "2024-04-09 09:00:00", "status": "actioned", "channel": "sms", **STAMP},
            {"id": 502, "appointment_id": 204, "patient_id": 103, "type": "follow_up_call",
             "send_at": "2024-04-11 14:15:00", "status": "pending", "channel": "call", **STAMP},
        ],
        "workflows": [
            {"id": 601, "name": "Confirm new bookings", "description": "SMS after booking",
             "trigger": {"event": "appointment_created",
                         "conditions": [{"field": "appointment_type", "operator": "eq",
                                         "value": "Initial Consultation"}]},
             "actions": [{"type": "send_sms", "delay_minutes": 0, "template": "booking_confirmation",
                          "target": "patient", "value": None},
                         {"type": "create_task", "delay_minutes": 1440, "template": None,
                          "target": "practitioner", "value": None}],
             "active": 1, **STAMP},
        ],
        "invoices": [{"id": 701, "patient_id": 101, "appointment_id": 202, "number": "INV-701", "status": "paid",
                      "total": "120.00", **STAMP}],
        "payments": [{"id": 801, "patient_id": "101", "invoice_id": 701, "amount": "120.00", "payment_type_id": 1,
                      "service": "Initial Consultation", "note": None, **STAMP}],
        "payment_methods": [{"id": 1, "name": "Card", "active": 1, **STAMP}],
        "patient_packages": [{"id": 901, "patient_id": 102, "name": "5-pack", "sessions_total": 5,
                              "sessions_used": 2, "price": "500.00", "expires": None, **STAMP}],
        "care_plans": [{"id": 1001, "patient_id": 101, "practitioner_id": 31, "name": "Knee rehab",
                        "goals": "Walk without pain", "status": "active", "start_date": "2024-04-10",
                        "end_date": None, **STAMP}],
        "patient_logs": [{"id": 1101, "patient_id": 101, "user_id": 21, "action": "viewed",
                          "description": "Viewed record", **STAMP}],
        "custom_form_responses": [{"id": 1201, "patient_id": 102, "form_name": "Intake",
                                   "answers": [{"question": "Allergies?", "answer": "None"}], "completed": 1,
                                   **STAMP}],
    })
