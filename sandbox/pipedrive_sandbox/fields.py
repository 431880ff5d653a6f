"""Field definitions (system and custom) and the checks on custom-field values."""

from __future__ import annotations

import re
import secrets
from typing import Any

from .clock import now_v2
from .errors import bad_request
from .store import Store

FIELD_FAMILIES = {"person": "personFields", "organization": "organizationFields", "deal": "dealFields",
                  "activity": "activityFields"}
ENTITY_OF_FAMILY = {"person": "persons", "organization": "organizations", "deal": "deals", "activity": "activities"}
CUSTOM_FIELD_TYPES = ("varchar", "text", "double", "phone", "date", "daterange", "time", "timerange", "set",
                      "enum", "varchar_auto", "address", "monetary", "org", "people", "user")
OPTION_TYPES = ("enum", "set")
SEARCHABLE_TYPES = ("address", "varchar", "text", "varchar_auto", "double", "monetary", "phone")

INDUSTRY_OPTIONS = ["Healthcare", "Retail", "Technology", "Finance", "Education", "Manufacturing", "Other"]

# (field_code, field_name, field_type) of each family's built-in fields, in Pipedrive's order.
SYSTEM_FIELDS: dict[str, list[tuple[str, str, str]]] = {
    "person": [("id", "ID", "int"), ("name", "Name", "varchar"), ("first_name", "First name", "varchar"),
               ("last_name", "Last name", "varchar"), ("owner_id", "Owner", "user"),
               ("org_id", "Organization", "org"), ("emails", "Email", "varchar"), ("phones", "Phone", "phone"),
               ("label_ids", "Labels", "set"), ("visible_to", "Visible to", "visible_to"),
               ("add_time", "Person created", "date"), ("update_time", "Update time", "date")],
    "organization": [("id", "ID", "int"), ("name", "Name", "varchar"), ("owner_id", "Owner", "user"),
                     ("address", "Address", "address"), ("website", "Website", "varchar"),
                     ("industry", "Industry", "enum"), ("annual_revenue", "Annual revenue", "monetary"),
                     ("employee_count", "Number of employees", "int"), ("label_ids", "Labels", "set"),
                     ("visible_to", "Visible to", "visible_to"), ("add_time", "Organization created", "date"),
                     ("update_time", "Update time", "date")],
    "deal": [("id", "ID", "int"), ("title", "Title", "varchar"), ("value", "Value", "monetary"),
             ("person_id", "Contact person", "people"), ("org_id", "Organization", "org"),
             ("pipeline_id", "Pipeline", "int"), ("stage_id", "Stage", "stage"), ("status", "Status", "status"),
             ("owner_id", "Owner", "user"), ("expected_close_date", "Expected close date", "date"),
             ("probability", "Probability", "double"), ("lost_reason", "Lost reason", "varchar"),
             ("close_time", "Deal closed on", "date"), ("won_time", "Won time", "date"),
             ("lost_time", "Lost time", "date"), ("label_ids", "Labels", "set"),
             ("visible_to", "Visible to", "visible_to"), ("add_time", "Deal created", "date"),
             ("update_time", "Update time", "date")],
    "activity": [("id", "ID", "int"), ("subject", "Subject", "varchar"), ("type", "Type", "varchar_options"),
                 ("due_date", "Due date", "date"), ("due_time", "Due time", "time"),
                 ("duration", "Duration", "time"), ("done", "Done", "boolean"), ("note", "Note", "text"),
                 ("owner_id", "Assigned to user", "user"), ("deal_id", "Deal", "deal"),
                 ("person_id", "Contact person", "people"), ("org_id", "Organization", "org"),
                 ("add_time", "Add time", "date"), ("update_time", "Update time", "date")],
}

DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
TIME_RE = re.compile(r"^\d{2}:\d{2}(:\d{2})?$")


def new_field_code() -> str:
    """40 hex characters from the OS's entropy: never the same in two accounts, seed or not."""
    return secrets.token_hex(20)


def field_record(store: Store, family: str, code: str, name: str, field_type: str, custom: bool,
                 option_labels: list[str] | None = None) -> dict[str, Any]:
    now = now_v2()
    options = None
    if field_type in OPTION_TYPES:
        options = [make_option(store, label) for label in option_labels or []]
    if not custom and code == "status":
        options = [{"id": s, "label": s.capitalize(), "color": None, "add_time": None, "update_time": None}
                   for s in ("open", "won", "lost")]
    return {
        "field_code": code, "field_name": name, "field_type": field_type, "options": options,
        "subfields": None, "is_custom_field": custom, "is_optional_response_field": False,
        "ui_visibility": {"add_visible_flag": True, "details_visible_flag": True},
        "important_fields": {"enabled": False, "stage_ids": []}, "required_fields": {"enabled": False},
        "add_time": now, "update_time": now, "is_deleted": False, "family": family,
    }


def make_option(store: Store, label: str) -> dict[str, Any]:
    now = now_v2()
    option_id = store.next_id("field_options")
    return {"id": option_id, "label": label, "color": None, "add_time": now, "update_time": now}


def seed_system_fields(store: Store) -> None:
    for family, specs in SYSTEM_FIELDS.items():
        for code, name, field_type in specs:
            labels = INDUSTRY_OPTIONS if code == "industry" else None
            store.insert(FIELD_FAMILIES[family], field_record(store, family, code, name, field_type, False, labels))


def custom_fields_of(store: Store, family: str) -> dict[str, dict[str, Any]]:
    return {f["field_code"]: f for f in store.query(FIELD_FAMILIES[family]) if f["is_custom_field"]}


def find_field(store: Store, family: str, code: str) -> dict[str, Any] | None:
    for field in store.query(FIELD_FAMILIES[family]):
        if field["field_code"] == code:
            return field
    return None


def public_field(field: dict[str, Any], include: set[str] | None = None) -> dict[str, Any]:
    """A field as v2 returns it (ui_visibility etc. only when asked with include_fields)."""
    keep = {"field_code", "field_name", "field_type", "options", "subfields", "is_custom_field",
            "is_optional_response_field"} | (include or set())
    return {k: v for k, v in field.items() if k in keep}


def check_custom_values(store: Store, family: str, values: Any) -> dict[str, Any]:
    """Validate a v2 `custom_fields` object strictly, returning the values to store."""
    if not isinstance(values, dict):
        raise bad_request("custom_fields must be an object")
    known = custom_fields_of(store, family)
    checked: dict[str, Any] = {}
    for key, value in values.items():
        field = known.get(key)
        if field is None:
            raise bad_request(f"Unknown custom field key: {key}")
        checked[key] = None if value is None else check_value(store, field, value)
    return checked


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def check_value(store: Store, field: dict[str, Any], value: Any) -> Any:
    field_type, name = field["field_type"], field["field_name"]

    def fail(expected: str) -> Exception:
        return bad_request(f"Invalid value for field '{name}' ({field_type}): expected {expected}")

    if field_type in ("varchar", "varchar_auto", "phone", "text"):
        if not isinstance(value, str):
            raise fail("a string")
        if field_type == "varchar" and len(value) > 255:
            raise fail("at most 255 characters")
        if len(value) > 65_535:
            raise fail("at most 65535 characters")
        return value
    if field_type == "double":
        if not _number(value):
            raise fail("a number")
        return value
    if field_type == "monetary":
        if _number(value):
            return {"value": value, "currency": None}
        if isinstance(value, dict) and _number(value.get("value")) and isinstance(value.get("currency", ""), str):
            return {"value": value["value"], "currency": value.get("currency")}
        raise fail('{"value": number, "currency": "ISO code"}')
    if field_type == "date":
        if not isinstance(value, str) or not DATE_RE.match(value):
            raise fail("a date YYYY-MM-DD")
        return value
    if field_type == "time":
        if not isinstance(value, str) or not TIME_RE.match(value):
            raise fail("a time HH:MM:SS")
        return value
    if field_type in ("daterange", "timerange"):
        if not isinstance(value, dict) or not {"start", "until"} <= set(value):
            raise fail('{"start": ..., "until": ...}')
        return {"start": value["start"], "until": value["until"]}
    if field_type == "enum":
        option_ids = {o["id"] for o in field.get("options") or []}
        if not isinstance(value, int) or isinstance(value, bool) or value not in option_ids:
            raise fail(f"one of the option ids {sorted(option_ids)}")
        return value
    if field_type == "set":
        option_ids = {o["id"] for o in field.get("options") or []}
        if not isinstance(value, list) or not all(isinstance(v, int) and v in option_ids for v in value):
            raise fail(f"a list of option ids from {sorted(option_ids)}")
        if not value:  # the spec: "sending an empty array [] is not supported"; null clears the selection
            raise fail("at least one option id (null clears the selection)")
        return value
    if field_type == "address":
        if isinstance(value, str):
            return {"value": value}
        if isinstance(value, dict) and isinstance(value.get("value"), str):
            return value
        raise fail('a string or {"value": string, ...}')
    if field_type in ("user", "org", "people"):
        entity = {"user": "users", "org": "organizations", "people": "persons"}[field_type]
        if not isinstance(value, int) or isinstance(value, bool) or store.get(entity, value) is None:
            raise fail(f"the id of an existing {entity[:-1]}")
        return value
    return value
