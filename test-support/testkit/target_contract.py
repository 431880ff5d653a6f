"""Singer messages in the transform's output contract (target-pipedrive's input), built for tests."""

from __future__ import annotations

import copy
import hashlib
import json
from pathlib import Path

STRING = {"type": ["string", "null"]}
REF = {"type": ["string", "null"]}
COMMON = {
    "source_id": {"type": "string"},
    "owner_email": STRING,
    "owner_name": STRING,
    "owner_source_id": STRING,
}


def _field(name: str, field_type: str, options=None, phi=False, json_type=("string", "null")) -> dict:
    return {
        "type": list(json_type),
        "x-pipedrive-field": {"name": name, "field_type": field_type, "options": options, "phi": phi},
    }


def _schema(stream: str, properties: dict, custom: dict, **extra) -> dict:
    schema = {
        "type": "object",
        "properties": {
            **COMMON,
            **properties,
            "custom_fields": {"type": ["object", "null"], "properties": custom},
        },
        **extra,
    }
    return {"type": "SCHEMA", "stream": stream, "schema": schema, "key_properties": ["source_id"]}


PIPELINES = [
    {
        "name": "Treatment plans",
        "stages": [{"name": "Assessment", "order": 1}, {"name": "Treatment", "order": 2}, {"name": "Review", "order": 3}],
    }
]

SCHEMAS = {
    "organizations": _schema(
        "organizations",
        {"name": STRING, "address": {"type": ["object", "null"]}, "website": STRING, "industry": STRING,
         "phone": STRING, "email": STRING},
        {"practicehub_id": _field("PracticeHub ID", "varchar"), "clinic_code": _field("Clinic code", "varchar")},
    ),
    "persons": _schema(
        "persons",
        {"name": STRING, "first_name": STRING, "last_name": STRING, "org_source_id": REF,
         "emails": {"type": ["array", "null"]}, "phones": {"type": ["array", "null"]},
         "postal_address": {"type": ["object", "null"]}, "birthday": STRING,
         "merged_source_ids": {"type": ["array", "null"]}},
        {
            "practicehub_id": _field("PracticeHub ID", "varchar"),
            "mrn": _field("Medical record number", "varchar", phi=True),
            "date_of_birth": _field("Date of birth", "date", phi=True),
            "patient_status": _field("Patient status", "enum", ["Active", "Inactive"]),
            "tags": _field("Patient tags", "set", ["VIP", "Recall"], json_type=("array", "null")),
            "balance": _field("Account balance", "double", json_type=("number", "null")),
        },
    ),
    "deals": _schema(
        "deals",
        {"title": STRING, "value": {"type": ["number", "null"]}, "currency": STRING, "pipeline": STRING,
         "stage": STRING, "status": STRING, "lost_reason": STRING, "expected_close_date": STRING,
         "close_time": STRING, "won_time": STRING, "lost_time": STRING, "person_source_id": REF,
         "org_source_id": REF},
        {"practicehub_id": _field("PracticeHub ID", "varchar"),
         "original_created": _field("Original created date", "date")},
        **{"x-pipedrive-pipelines": PIPELINES},
    ),
    "activities": _schema(
        "activities",
        {"subject": STRING, "type": STRING, "due_date": STRING, "due_time": STRING, "duration": STRING,
         "done": {"type": ["boolean", "null"]}, "note": STRING, "person_source_id": REF, "deal_source_id": REF,
         "org_source_id": REF},
        {},
    ),
    "notes": _schema(
        "notes",
        {"content": STRING, "add_time": STRING, "pinned": {"type": ["boolean", "null"]},
         "person_source_id": REF, "deal_source_id": REF, "org_source_id": REF},
        {},
    ),
    "files": _schema(
        "files",
        {"file_name": STRING, "mime_type": STRING, "size": {"type": ["integer", "null"]}, "sha256": STRING,
         "local_path": STRING, "person_source_id": REF, "deal_source_id": REF, "org_source_id": REF},
        {},
    ),
    "skipped": {
        "type": "SCHEMA",
        "stream": "skipped",
        "schema": {"type": "object", "properties": {"source_stream": STRING, "source_id": STRING, "reason": STRING,
                                                    "detail": STRING}},
        "key_properties": [],
    },
}


def owner(email: str | None, name: str = "Dr Staff", source_id: str = "practitioners:1") -> dict:
    return {"owner_email": email, "owner_name": name, "owner_source_id": source_id}


def build_practice(files_dir: Path, owner_email: str, n_persons: int = 6) -> dict[str, list[dict]]:
    """A small practice: 2 clinics, persons with custom fields, deals, activities, notes, files."""
    files_dir.mkdir(parents=True, exist_ok=True)
    orgs = [
        {"source_id": f"businesses:{i}", **owner(owner_email), "name": f"Clinic {i}",
         "address": {"value": f"{i} Main St, Springfield", "locality": "Springfield", "country": "US"},
         "website": f"https://clinic{i}.example", "industry": None, "phone": None, "email": None,
         "custom_fields": {"practicehub_id": f"businesses:{i}", "clinic_code": f"C{i}"}}
        for i in (1, 2)
    ]
    persons = []
    for i in range(1, n_persons + 1):
        persons.append(
            {"source_id": f"patients:{100 + i}", **owner(owner_email), "name": f"Patient {i}",
             "first_name": "Patient", "last_name": str(i), "org_source_id": f"businesses:{1 + i % 2}",
             "emails": [{"value": f"patient{i}@mail.example", "primary": True, "label": "home"}],
             "phones": [{"value": f"+1555000{i:04d}", "primary": True, "label": "mobile"}],
             "postal_address": None, "birthday": None, "merged_source_ids": [],
             "custom_fields": {"practicehub_id": f"patients:{100 + i}", "mrn": f"MRN-{i:05d}",
                               "date_of_birth": f"{1950 + i % 50}-0{1 + i % 9}-1{i % 10}",
                               "patient_status": "Active" if i % 3 else "Inactive",
                               "tags": ["VIP"] if i % 2 else ["VIP", "Recall"], "balance": 10.5 * i}}
        )
    deals = [
        {"source_id": f"treatment_plans:{i}", **owner(owner_email), "title": f"Plan {i}", "value": 100.0 * i,
         "currency": "USD", "pipeline": "Treatment plans", "stage": ["Assessment", "Treatment", "Review"][i % 3],
         "status": ["open", "won", "lost", "open"][i % 4], "lost_reason": "Declined" if i % 4 == 2 else None,
         "expected_close_date": "2026-12-01", "close_time": None, "won_time": None, "lost_time": None,
         "person_source_id": f"patients:{100 + i}", "org_source_id": None,
         "custom_fields": {"practicehub_id": f"treatment_plans:{i}", "original_created": "2024-03-0" + str(i)}}
        for i in range(1, 5)
    ]
    activities = [
        {"source_id": f"appointments:{i}", **owner(owner_email), "subject": f"Appointment {i}", "type": "task",
         "due_date": "2026-01-1" + str(i), "due_time": "09:30", "duration": "00:30", "done": i % 2 == 0,
         "note": "Follow-up", "person_source_id": f"patients:{100 + i}", "deal_source_id": f"treatment_plans:{i}",
         "org_source_id": None, "custom_fields": {}}
        for i in range(1, 4)
    ]
    notes = [
        {"source_id": f"treatment_notes:{i}", **owner(owner_email), "content": f"<p>Treatment note {i}</p>",
         "add_time": f"2023-05-0{i} 10:00:00", "pinned": False,
         "person_source_id": f"patients:{100 + i}" if i != 2 else None,
         "deal_source_id": "treatment_plans:2" if i == 2 else None, "org_source_id": None, "custom_fields": {}}
        for i in range(1, 4)
    ]
    files = []
    for i in (1, 2):
        content = f"attachment {i}\n".encode() * 50
        path = files_dir / f"scan-{i}.txt"
        path.write_bytes(content)
        files.append(
            {"source_id": f"attachments:{i}", **owner(owner_email), "file_name": f"scan-{i}.txt",
             "mime_type": "text/plain", "size": len(content), "sha256": hashlib.sha256(content).hexdigest(),
             "local_path": str(path), "person_source_id": f"patients:{100 + i}", "deal_source_id": None,
             "org_source_id": None, "custom_fields": {}}
        )
    skipped = [{"source_stream": "patients", "source_id": "patients:999", "reason": "no_name", "detail": "empty"}]
    return {"organizations": orgs, "persons": persons, "deals": deals, "activities": activities, "notes": notes,
            "files": files, "skipped": skipped}


def messages(data: dict[str, list[dict]], order: list[str] | None = None, state: bool = True) -> list[dict]:
    """SCHEMA for every stream first, then RECORDs stream by stream (or in `order`), then a STATE."""
    streams = order or ["organizations", "persons", "deals", "activities", "notes", "files", "skipped"]
    out = [copy.deepcopy(SCHEMAS[s]) for s in SCHEMAS if s in data]
    for stream in streams:
        out.extend({"type": "RECORD", "stream": stream, "record": r} for r in data.get(stream, []))
    if state:
        out.append({"type": "STATE", "value": {"bookmarks": {"done": True}}})
    return out


def write_singer(path: Path, msgs: list[dict]) -> Path:
    path.write_text("".join(json.dumps(m) + "\n" for m in msgs), encoding="utf-8")
    return path
