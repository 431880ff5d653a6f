"""Create, update and present v2 records: persons, organizations, deals, activities, pipelines, stages."""

from __future__ import annotations

from typing import Any

from .clock import DATE_RE_TEXT, normalise_v2, now_v2
from .errors import bad_request
from .fields import ENTITY_OF_FAMILY, check_custom_values, custom_fields_of
from .spec import SpecCatalog
from .store import Store
from .visibility import VISIBLE_TO_VALUES

FAMILY_OF_ENTITY = {entity: family for family, entity in ENTITY_OF_FAMILY.items()}
DEFAULT_VISIBLE_TO = 3
DEFAULT_CURRENCY = "USD"

# Text keys each entity requires (the spec checks types; these must also be non-empty).
REQUIRED = {"persons": "name", "organizations": "name", "deals": "title", "pipelines": "name", "stages": "name"}
REFERENCES = {
    "owner_id": "users", "org_id": "organizations", "person_id": "persons", "deal_id": "deals",
    "pipeline_id": "pipelines", "stage_id": "stages",
}
READ_ONLY = {"id", "add_time", "update_time", "is_deleted", "first_name", "last_name", "order_nr"}
SETTABLE_ADD_TIME = {"persons", "organizations"}


def _require_text(body: dict[str, Any], key: str) -> None:
    value = body.get(key)
    if not isinstance(value, str) or not value.strip():
        raise bad_request(f"{key.capitalize()} must be given")


def _check_references(store: Store, entity: str, body: dict[str, Any]) -> None:
    """Every *_id the body sets must name a live record (400 otherwise)."""
    for key, target in REFERENCES.items():
        if body.get(key) is not None and store.get(target, body[key]) is None:
            raise bad_request(f"{key} {body[key]} does not exist")


def _emptied(value: Any) -> bool:
    """`""`, or an address object whose parts are all empty: how a client clears a non-nullable text or address."""
    if isinstance(value, str):
        return not value.strip()
    if isinstance(value, dict) and "value" in value:
        return all(part is None or (isinstance(part, str) and not part.strip()) for part in value.values())
    return False


def prepare(store: Store, entity: str, body: dict[str, Any], current: dict[str, Any] | None,
            acting_user: dict[str, Any]) -> dict[str, Any]:
    """Validate a create (current None) or update body and return the full record to store.

    The body comes reduced to the keys the operation's schema defines (`validate_body`), so a key
    such as `add_time` on a v2 deal or `street` in an address is never stored nor echoed back.
    An emptied value (`""`, or an address with no part left) is stored as unset: read back as null.
    """
    if not isinstance(body, dict):
        raise bad_request("Request body must be a JSON object")
    if current is None and entity in REQUIRED:
        _require_text(body, REQUIRED[entity])
    elif current is not None and entity in REQUIRED and REQUIRED[entity] in body:
        _require_text(body, REQUIRED[entity])
    _check_references(store, entity, body)
    if "visible_to" in body and body["visible_to"] not in VISIBLE_TO_VALUES:
        raise bad_request(f"visible_to must be one of {list(VISIBLE_TO_VALUES)}")

    record = dict(current or {})
    now = now_v2()
    for key, value in body.items():
        if key in READ_ONLY and not (key == "add_time" and entity in SETTABLE_ADD_TIME):
            continue
        if key == "custom_fields":
            checked = check_custom_values(store, FAMILY_OF_ENTITY[entity], value)
            record["custom_fields"] = {**record.get("custom_fields", {}), **checked}
            continue
        record[key] = None if _emptied(value) else value
    if body.get("add_time") and entity in SETTABLE_ADD_TIME:
        try:
            record["add_time"] = normalise_v2(body["add_time"])
        except ValueError as exc:
            raise bad_request("add_time must be an RFC 3339 date-time") from exc

    if current is None:
        record.setdefault("add_time", now)
        record["is_deleted"] = False
        if entity in ("persons", "organizations", "deals", "activities"):
            if record.get("owner_id") is None:
                record["owner_id"] = acting_user["id"]
            if entity != "activities":
                record.setdefault("visible_to", DEFAULT_VISIBLE_TO)
            record.setdefault("custom_fields", {})
    record["update_time"] = now
    finish = FINISHERS.get(entity)
    if finish:
        finish(store, record, body, current)
    return record


def _finish_person(store: Store, record: dict, body: dict, current: dict | None) -> None:
    first, _, last = (record.get("name") or "").strip().partition(" ")
    record["first_name"], record["last_name"] = first or None, last or None
    for key in ("emails", "phones"):
        items = record.get(key) or []
        if items and not any(item.get("primary") for item in items):
            items[0]["primary"] = True
        record[key] = [{"label": "work", "primary": False, **item} for item in items]


def _finish_deal(store: Store, record: dict, body: dict, current: dict | None) -> None:
    status = record.get("status") or "open"
    if status not in ("open", "won", "lost"):
        raise bad_request("status must be one of open, won, lost")
    record["status"] = status
    if record.get("lost_reason") and status != "lost":
        raise bad_request("lost_reason can only be set if deal status is lost")
    if body.get("close_time") and status == "open":
        raise bad_request("close_time can only be set if deal status is won or lost")
    if "stage_id" in body and body["stage_id"] is not None:
        stage = store.get("stages", body["stage_id"])
        if "pipeline_id" in body and body["pipeline_id"] not in (None, stage["pipeline_id"]):
            raise bad_request("stage_id does not belong to pipeline_id")
        record["pipeline_id"] = stage["pipeline_id"]
    elif current is None or "pipeline_id" in body:
        pipeline_id = record.get("pipeline_id") or _default_pipeline_id(store)
        stages = store.query("stages", "json_extract(data, '$.pipeline_id') = ?", [pipeline_id],
                             order="json_extract(data, '$.order_nr'), id")
        if not stages:
            raise bad_request(f"pipeline {pipeline_id} has no stages")
        record["pipeline_id"], record["stage_id"] = pipeline_id, stages[0]["id"]
    for key in ("won_time", "lost_time", "close_time"):
        if record.get(key):
            try:
                record[key] = normalise_v2(record[key])
            except ValueError as exc:
                raise bad_request(f"{key} must be an RFC 3339 date-time") from exc
    if status == "won":
        record["won_time"] = record.get("won_time") or record.get("close_time") or record["update_time"]
        record["close_time"] = record.get("close_time") or record["won_time"]
    elif status == "lost":
        record["lost_time"] = record.get("lost_time") or record.get("close_time") or record["update_time"]
        record["close_time"] = record.get("close_time") or record["lost_time"]
    else:
        record["won_time"] = record["lost_time"] = record["close_time"] = None
    if record.get("currency") is None:
        record["currency"] = DEFAULT_CURRENCY
    if record.get("value") is None:
        record["value"] = 0
    if record.get("expected_close_date") and not DATE_RE_TEXT.match(record["expected_close_date"]):
        raise bad_request("expected_close_date must be YYYY-MM-DD")


def _default_pipeline_id(store: Store) -> int:
    pipelines = store.query("pipelines", order="json_extract(data, '$.order_nr'), id", limit=1)
    if not pipelines:
        raise bad_request("No pipeline exists")
    return pipelines[0]["id"]


def _finish_activity(store: Store, record: dict, body: dict, current: dict | None) -> None:
    types = {t["key_string"]: t for t in store.query("activityTypes")}
    activity_type = record.get("type") or "task"
    if activity_type not in types:
        raise bad_request(f"Unknown activity type: {activity_type}")
    record["type"] = activity_type
    if not record.get("subject"):
        record["subject"] = types[activity_type]["name"]
    if record.get("due_date") and not DATE_RE_TEXT.match(record["due_date"]):
        raise bad_request("due_date must be YYYY-MM-DD")
    record.setdefault("done", False)
    participants = body.get("participants")
    if participants is not None:
        for participant in participants:
            if store.get("persons", participant.get("person_id")) is None:
                raise bad_request(f"participant person_id {participant.get('person_id')} does not exist")
        primary = [p for p in participants if p.get("primary")] or participants[:1]
        record["person_id"] = primary[0]["person_id"] if primary else None
    elif body.get("person_id") is not None:
        record["participants"] = [{"person_id": body["person_id"], "primary": True}]
    record.setdefault("participants", [])


def _finish_pipeline(store: Store, record: dict, body: dict, current: dict | None) -> None:
    if current is None:
        record["order_nr"] = len(store.query("pipelines")) + 1
    record.setdefault("is_deal_probability_enabled", False)


def _finish_stage(store: Store, record: dict, body: dict, current: dict | None) -> None:
    if current is None:
        if record.get("pipeline_id") is None:
            raise bad_request("Pipeline_id must be given")
        siblings = store.query("stages", "json_extract(data, '$.pipeline_id') = ?", [record["pipeline_id"]])
        record["order_nr"] = len(siblings) + 1
    record.setdefault("deal_probability", 100)
    record.setdefault("is_deal_rot_enabled", False)
    record.setdefault("days_to_rotten", None)


FINISHERS = {"persons": _finish_person, "deals": _finish_deal, "activities": _finish_activity,
             "pipelines": _finish_pipeline, "stages": _finish_stage}


def present(store: Store, catalog: SpecCatalog, entity: str, record: dict[str, Any],
            custom: dict[str, dict] | None = None) -> dict[str, Any]:
    """A stored record as v2 returns it: every key of the spec's response, custom fields by key."""
    shaped: dict[str, Any] = {}
    for key, schema in catalog.response_properties("v2", "GET", f"/{entity}/{{id}}").items():
        shaped[key] = [] if schema.get("type") == "array" else False if schema.get("type") == "boolean" else None
    shaped.update({k: v for k, v in record.items() if k not in ("custom_fields",)})
    if entity in FAMILY_OF_ENTITY:
        if custom is None:
            custom = custom_fields_of(store, FAMILY_OF_ENTITY[entity])
        stored = record.get("custom_fields") or {}
        shaped["custom_fields"] = {code: stored.get(code) for code in custom}
    return shaped
