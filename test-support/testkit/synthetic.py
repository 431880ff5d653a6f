"""Seeded PracticeHub-like data of any size, for property tests, sample mode and the benchmark fallback
(used when practicehub_sandbox.data.generate is not available)."""

from __future__ import annotations

import random

from testkit.practice import CUSTOM_FIELDS, STAMP

STATUSES = ["pending", "arrived", "processed", "missed", "cancelled"]
TYPES = ["Initial Consultation", "Follow-up", "Massage", "Telehealth", "Group Class"]
REFERRALS = ["Google", "Friend", "GP referral", "Instagram", None]
REMINDER_TYPES = ["appointment_confirmation", "follow_up_call", "recall", "payment_reminder", "review_request"]


def _stamp(rng: random.Random) -> dict:
    day = rng.randint(1, 28)
    return {"created": f"2024-02-{day:02d} {rng.randint(0, 23):02d}:15:00", "updated": STAMP["updated"]}


def generate(patients: int, seed: int = 0, duplicate_rate: float = 0.05) -> dict[str, list[dict]]:
    rng = random.Random(seed)
    data: dict[str, list[dict]] = {
        "locations": [{"id": i, "name": f"Clinic {i}", "address_line_1": f"{i} Main St", "address_line_2": None,
                       "city": "Springfield", "postcode": f"{1000 + i}", "country": "US", "phone": "555-0100",
                       "email": f"clinic{i}@example.com", "website": f"clinic{i}.example", **STAMP}
                      for i in range(1, 4)],
        "patient_custom_fields": [{**field, **STAMP} for field in CUSTOM_FIELDS],
        "users": [{"id": 1, "first_name": "Admin", "last_name": "User", "email": "admin@example.com",
                   "role": "admin", "active": 1, **STAMP}],
        "practitioners": [{"id": i, "title": "Dr", "first_name": f"Prac{i}", "last_name": "Smith",
                           "email": f"prac{i}@example.com" if i % 4 else None, "active": 1, **STAMP}
                          for i in range(1, 9)],
        "appointment_types": [{"id": i, "name": name, "duration": 30, "price": "80.00", **STAMP}
                              for i, name in enumerate(TYPES, 1)],
    }
    people, appointments, notes, files, reminders, invoices, payments = [], [], [], [], [], [], []
    for pid in range(1, patients + 1):
        email = f"patient{pid}@example.com"
        if pid > 10 and rng.random() < duplicate_rate:
            email = f"  Patient{rng.randint(1, pid - 1)}@Example.com"
        people.append({
            "id": pid, "patient_number": f"P{pid}", "title": None, "first_name": f"First{pid}",
            "last_name": f"Last{pid}", "email": email if rng.random() > 0.05 else None,
            "dob": f"19{rng.randint(40, 99)}-0{rng.randint(1, 9)}-1{rng.randint(0, 9)}" if rng.random() > 0.1
            else None, "sex": rng.choice(["Female", "Male", "Other"]), "mobile": f"555-01{pid % 100:02d}",
            "phone": None, "address_line_1": f"{pid} Elm St", "address_line_2": None, "city": "Springfield",
            "postcode": "12345", "country": "US", "status": "active", "deleted": 1 if rng.random() < 0.01 else 0,
            "referral_source": rng.choice(REFERRALS), "location_id": rng.randint(1, 3),
            "custom_fields": [{"name": "mrn", "label": "MRN", "value": f"MRN{pid}"},
                              {"name": "preferred_contact", "label": "Preferred contact",
                               "value": rng.choice(["Email", "SMS", "Phone"])}],
            **_stamp(rng)})
        for _ in range(rng.randint(0, 4)):
            aid = len(appointments) + 1
            status = rng.choice(STATUSES)
            appointments.append({
                "id": aid, "patient_id": pid if rng.random() > 0.01 else pid + 10**6,
                "practitioner_id": rng.randint(1, 8), "appointment_type_id": rng.randint(1, len(TYPES)),
                "location_id": rng.randint(1, 3), "start": f"2024-0{rng.randint(3, 9)}-1{rng.randint(0, 9)} 10:00:00",
                "end": "2024-03-10 10:30:00", "status": status,
                "cancelDate": "2024-03-09 08:00:00" if status == "cancelled" else None,
                "fee": rng.choice(["80.00", "120.00", None]), "note": rng.choice([None, "Bring scans"]),
                **_stamp(rng)})
            if rng.random() < 0.5:
                notes.append({"id": len(notes) + 1, "patient_id": pid, "appointment_id": aid, "practitioner_id": 1,
                              "type": "SOAP", "state": "final",
                              "data": {"soap_data": [{"key": "Subjective", "val": "<p>ok</p>"}]}, **_stamp(rng)})
                if rng.random() < 0.3:
                    files.append({"id": len(files) + 1, "patient_id": pid, "entity_type": "clinical_note",
                                  "entity_id": notes[-1]["id"], "file_name": "scan.pdf", "file_type": "pdf",
                                  "mime_type": "application/pdf", "size": 1000, "description": None,
                                  "url": "http://127.0.0.1:1/_blobs/x",
                                  "local_path": f"/tmp/files/{len(files) + 1}.pdf", "downloaded_size": 1000,
                                  "sha256": "0" * 64, "download_error": None, **_stamp(rng)})
            if rng.random() < 0.6:
                reminders.append({"id": len(reminders) + 1, "appointment_id": aid, "patient_id": pid,
                                  "type": rng.choice(REMINDER_TYPES), "send_at": "2024-03-09 09:00:00",
                                  "status": rng.choice(["pending", "sent", "actioned"]), "channel": "sms",
                                  **_stamp(rng)})
            if status == "processed":
                invoices.append({"id": len(invoices) + 1, "patient_id": pid, "appointment_id": aid,
                                 "number": f"INV{aid}", "status": "paid", "total": "80.00", **_stamp(rng)})
                payments.append({"id": len(payments) + 1, "patient_id": str(pid), "invoice_id": invoices[-1]["id"],
                                 "amount": "80.00", "payment_type_id": 1, "service": "Visit", "note": None,
                                 **_stamp(rng)})
    data.update({
        "patients": people, "appointments": appointments, "clinical_notes": notes, "files": files,
        "reminders": reminders,
        "workflows": [{"id": 1, "name": "Recall", "description": None,
                       "trigger": {"event": "appointment_processed", "conditions": []},
                       "actions": [{"type": "send_email", "delay_minutes": 0, "template": "recall"}], "active": 1,
                       **STAMP}],
        "invoices": invoices, "payments": payments,
        "payment_methods": [{"id": 1, "name": "Card", "active": 1, **STAMP}],
        "patient_packages": [{"id": 1, "patient_id": 1, "name": "Pack", "sessions_total": 5, "sessions_used": 1,
                              "price": "300.00", "expires": None, **STAMP}],
        "care_plans": [{"id": 1, "patient_id": 2, "practitioner_id": 1, "name": "Plan", "goals": "Walk",
                        "status": "active", "start_date": "2024-03-01", "end_date": None, **STAMP}],
        "patient_logs": [{"id": i, "patient_id": i, "user_id": 1, "action": "viewed", "description": "",
                          **STAMP} for i in range(1, min(patients, 20) + 1)],
        "custom_form_responses": [{"id": 1, "patient_id": 3, "form_name": "Intake",
                                   "answers": [{"question": "Q", "answer": "A"}], "completed": 1, **STAMP}],
    })
    return data
