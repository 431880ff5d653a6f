"""Singer messages as a generic tap sends them: plain SCHEMA types, no `x-pipedrive-*` extensions, flat columns."""

from __future__ import annotations

import json
from pathlib import Path


def _json_type(value) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return "string"


def generic_schema(stream: str, records: list[dict], key_properties: list[str] | None = None) -> dict:
    """The SCHEMA a schema-inferring tap (tap-jsonl, tap-csv) would send: each property's observed types."""
    types: dict[str, set[str]] = {}
    for record in records:
        for key, value in record.items():
            types.setdefault(key, {"null"})
            if value is not None:
                types[key].add(_json_type(value))
    properties = {key: {"type": sorted(kinds)} for key, kinds in types.items()}
    return {"type": "SCHEMA", "stream": stream, "schema": {"type": "object", "properties": properties},
            "key_properties": key_properties if key_properties is not None else ["source_id"]}


def generic_messages(streams: dict[str, list[dict]], state: dict | None = None) -> list[dict]:
    out: list[dict] = []
    for stream, records in streams.items():
        out.append(generic_schema(stream, records))
        out.extend({"type": "RECORD", "stream": stream, "record": r} for r in records)
    out.append({"type": "STATE", "value": state or {"bookmarks": {"generic": True}}})
    return out


def write_messages(path: Path, msgs: list[dict]) -> Path:
    path.write_text("".join(json.dumps(m) + "\n" for m in msgs), encoding="utf-8")
    return path


def practice_rows(owner_email: str) -> dict[str, list[dict]]:
    """A small practice as flat rows: two clinics, three patients, deals in the account's own pipeline, notes."""
    owner = {"owner_email": owner_email}
    return {
        "organizations": [
            {"source_id": "clinic-1", "name": "Northside Clinic", "website": "https://north.example", **owner},
            {"source_id": "clinic-2", "name": "Southside Clinic", **owner},
        ],
        "persons": [
            {"source_id": "pt-1", "name": "Ada Lovelace", "org_source_id": "clinic-1",
             "emails": [{"value": "ada@mail.example", "primary": True, "label": "home"}],
             "lead_channel": "Website", "referral_code": "R-100", **owner},
            {"source_id": "pt-2", "name": "Alan Turing", "org_source_id": "clinic-2",
             "emails": [{"value": "alan@mail.example", "primary": True, "label": "work"}],
             "lead_channel": "Referral", "referral_code": "R-200", **owner},
            {"source_id": "pt-3", "name": "Grace Hopper", "org_source_id": "clinic-1",
             "emails": [{"value": "grace@mail.example", "primary": True, "label": "home"}],
             "lead_channel": "Billboard", "referral_code": None, **owner},
        ],
        "deals": [
            {"source_id": "deal-1", "title": "Physio block", "value": 480.0, "currency": "USD",
             "pipeline": "Pipeline", "stage": "Contact Made", "person_source_id": "pt-1",
             "org_source_id": "clinic-1", "campaign": "Spring", **owner},
            {"source_id": "deal-2", "title": "Assessment", "value": 120, "currency": "USD",
             "pipeline": "Pipeline", "stage": "Lead In", "person_source_id": "pt-2", **owner},
        ],
        "notes": [
            {"source_id": "note-1", "content": "<p>First visit booked</p>", "add_time": "2024-03-01 09:00:00",
             "person_source_id": "pt-1", "deal_source_id": "deal-1"},
            {"source_id": "note-2", "content": "<p>Called back</p>", "person_source_id": "pt-2"},
        ],
    }


DECLARED_FIELDS = {
    "persons": {"lead_channel": {"name": "Lead channel"},  # exists in the account (an enum)
                "referral_code": {"name": "Referral code", "field_type": "varchar"}},  # created
    "deals": {"campaign": {"name": "Campaign"}},  # exists (varchar)
}
