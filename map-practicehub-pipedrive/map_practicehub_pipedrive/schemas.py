"""Output SCHEMA messages: the entity properties plus custom fields described by `x-pipedrive-field`."""

from __future__ import annotations

import copy

S = {"type": ["string", "null"]}
N = {"type": ["number", "null"]}
B = {"type": ["boolean", "null"]}
I = {"type": ["integer", "null"]}  # noqa: E741
REFS = {"source_id": {"type": "string"}, "owner_email": S, "owner_name": S, "owner_source_id": S}
LABELLED = {"type": ["array", "null"], "items": {"type": "object", "properties": {
    "value": S, "primary": B, "label": S}}}
ADDRESS = {"type": ["object", "null"], "properties": {
    "value": S, "street": S, "locality": S, "postal_code": S, "country": S}}

PROPERTIES = {
    "organizations": {"name": S, "address": ADDRESS, "website": S, "industry": S},
    "persons": {"name": S, "first_name": S, "last_name": S, "emails": LABELLED, "phones": LABELLED,
                "postal_address": ADDRESS, "birthday": {**S, "format": "date"}, "org_source_id": S,
                "merged_source_ids": {"type": "array", "items": {"type": "string"}}},
    "deals": {"title": S, "value": N, "currency": S, "pipeline": S, "stage": S, "status": S,
              "lost_reason": S, "expected_close_date": {**S, "format": "date"},
              "close_time": {**S, "format": "date-time"}, "won_time": {**S, "format": "date-time"},
              "lost_time": {**S, "format": "date-time"}, "person_source_id": S, "org_source_id": S},
    "activities": {"subject": S, "type": S, "due_date": {**S, "format": "date"}, "due_time": S,
                   "duration": S, "done": B, "note": S, "deal_source_id": S, "person_source_id": S,
                   "org_source_id": S},
    "notes": {"content": S, "add_time": S, "pinned": B, "deal_source_id": S, "person_source_id": S,
              "org_source_id": S},
    "files": {"file_name": S, "mime_type": S, "size": I, "sha256": S, "local_path": S,
              "deal_source_id": S, "person_source_id": S, "org_source_id": S},
}
SKIPPED = {"type": "object", "properties": {"source_stream": {"type": "string"}, "source_id": {"type": "string"},
                                            "reason": {"type": "string"}, "detail": S}}
# One entry per degraded value of a record that landed (stream, source id, field, reason, action; no value).
DEGRADED = {"type": "object", "properties": {"source_stream": {"type": "string"}, "source_id": {"type": "string"},
                                             "field": {"type": "string"}, "reason": {"type": "string"},
                                             "action": {"type": "string"}}}
JSON_TYPES = {"double": N, "monetary": N, "set": {"type": ["array", "null"], "items": {"type": "string"}},
              "org": {"type": ["object", "null"], "properties": {"source_id": S, "name": S}}}
OPTION_TYPES = ("enum", "set")
PRACTICEHUB_ID = {"name": "PracticeHub ID", "field_type": "varchar", "options": None, "phi": False}


class FieldRegistry:
    """Custom fields of one output stream; enum/set options grow as values arrive."""

    def __init__(self) -> None:
        self.fields: dict[str, dict] = {"practicehub_id": dict(PRACTICEHUB_ID)}
        self.changed = True

    def add(self, logical: str, name: str, field_type: str, options: tuple | list, phi: bool) -> None:
        if logical in self.fields:
            return
        listed = list(dict.fromkeys(options)) if field_type in OPTION_TYPES else None
        self.fields[logical] = {"name": name, "field_type": field_type, "options": listed, "phi": phi}
        self.changed = True

    def remove(self, logical: str) -> None:
        """A field the run may not send after all (PracticeHub marks it PHI)."""
        if self.fields.pop(logical, None) is not None:
            self.changed = True

    def add_options(self, logical: str, labels: list[str]) -> None:
        options = self.fields[logical]["options"]
        for label in labels:
            if label not in options:
                options.append(label)
                self.changed = True

    def json_schema(self) -> dict:
        properties = {}
        for logical, description in self.fields.items():
            kind = JSON_TYPES.get(description["field_type"], S)
            properties[logical] = copy.deepcopy(kind)
            if description["field_type"] in OPTION_TYPES and not description["options"]:
                # Pipedrive needs an option to create a pick-list (target schema_setup.py otherwise makes a
                # varchar, and a second field once options come). Declared without `x-pipedrive-field`
                # until its first label arrives; values before that are all null, so nothing is lost.
                continue
            properties[logical]["x-pipedrive-field"] = copy.deepcopy(description)
        return {"type": "object", "properties": properties}


def schema_message(stream: str, registry: FieldRegistry | None, pipelines: list | None = None,
                   identity: dict | None = None, phi: dict | None = None) -> dict:
    """`phi` (entity streams): the run's policy and the PHI it left out, for the target's own check."""
    if stream == "skipped":
        schema = SKIPPED
    elif stream == "degraded":
        return {"type": "SCHEMA", "stream": stream, "schema": DEGRADED, "key_properties": ["source_id", "field"]}
    else:
        properties = {**REFS, **PROPERTIES[stream], "custom_fields": registry.json_schema()}
        schema = {"type": "object", "properties": properties}
        if phi is not None:
            schema["x-phi"] = phi
        if pipelines is not None:
            schema = {**schema, "x-pipedrive-pipelines": pipelines}
        if identity is not None:  # the target adopts account persons on the rule the mapper merged by
            schema = {**schema, "x-pipedrive-identity": identity}
    return {"type": "SCHEMA", "stream": stream, "schema": schema, "key_properties": ["source_id"]}
