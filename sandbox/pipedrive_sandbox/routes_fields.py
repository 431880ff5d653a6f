"""v2 field definitions: list, get, create, rename, delete, and enum/set options (activity fields read-only)."""

from __future__ import annotations

from typing import Any

from flask import Flask, request

from .account import Account
from .clock import now_v2
from .errors import bad_request, not_found, ok
from .fields import (
    FIELD_FAMILIES,
    OPTION_TYPES,
    field_record,
    find_field,
    make_option,
    new_field_code,
    public_field,
)
from .plan_limits import check_custom_field_room
from .routing import api_route, decode_cursor, encode_cursor, json_body, page_limit
from .validation import validate_body

MAX_OPTIONS = 10_000
WRITABLE_FAMILIES = ("person", "organization", "deal")


def register(app: Flask, account: Account) -> None:
    for family in FIELD_FAMILIES:
        _register_family(app, account, family)


def _register_family(app: Flask, account: Account, family: str) -> None:
    store = account.store
    table = FIELD_FAMILIES[family]
    base = f"/{table}"
    label = f"{family.capitalize()} field"

    def include() -> set[str]:
        return {k for k in request.args.get("include_fields", "").split(",") if k}

    def custom_field(code: str) -> dict[str, Any]:
        field = find_field(store, family, code)
        if field is None:
            raise not_found(label)
        return field

    @api_route(app, "v2", "GET", base)
    def list_fields():
        limit = page_limit()
        offset = decode_cursor(request.args.get("cursor"))
        rows = store.query(table, limit=limit + 1, offset=offset)
        more = len(rows) > limit
        data = [public_field(f, include()) for f in rows[:limit]]
        return ok(data, {"next_cursor": encode_cursor(offset + limit) if more else None})

    @api_route(app, "v2", "GET", f"{base}/{{field_code}}")
    def get_field(field_code: str):
        return ok(public_field(custom_field(field_code), include()))

    if family not in WRITABLE_FAMILIES:
        return

    @api_route(app, "v2", "POST", base)
    def create_field():
        body = validate_body(account.catalog, "v2", "POST", base, json_body())
        name, field_type = body.get("field_name"), body.get("field_type")
        if not isinstance(name, str) or not name.strip():
            raise bad_request("field_name must be given")
        labels = _option_labels(body.get("options"), field_type)
        with store.lock:
            check_custom_field_room(account)
            field = field_record(store, family, new_field_code(), name.strip(), field_type, True, labels)
            for key in ("ui_visibility", "important_fields", "required_fields"):
                if key in body:
                    field[key] = body[key]
            store.insert(table, field)
        return ok(public_field(field))

    @api_route(app, "v2", "PATCH", f"{base}/{{field_code}}")
    def update_field(field_code: str):
        body = validate_body(account.catalog, "v2", "PATCH", f"{base}/{{field_code}}", json_body())
        with store.lock:
            field = custom_field(field_code)
            if "field_name" in body:
                if not field["is_custom_field"]:
                    raise bad_request("System fields cannot be renamed")
                if not body["field_name"].strip():
                    raise bad_request("field_name must not be empty")
                field["field_name"] = body["field_name"].strip()
            for key in ("ui_visibility", "important_fields", "required_fields"):
                if key in body:
                    field[key] = body[key]
            field["update_time"] = now_v2()
            store.save(table, field)
        return ok(public_field(field))

    @api_route(app, "v2", "DELETE", f"{base}/{{field_code}}")
    def delete_field(field_code: str):
        with store.lock:
            field = custom_field(field_code)
            delete_custom_field(account, table, field)
        return ok(public_field(field))

    @api_route(app, "v2", "POST", f"{base}/{{field_code}}/options")
    def add_options(field_code: str):
        body = validate_body(account.catalog, "v2", "POST", f"{base}/{{field_code}}/options", json_body())
        with store.lock:
            field = _option_field(custom_field(field_code))
            labels = _option_labels(body, field["field_type"], existing=len(field["options"]))
            added = [make_option(store, text) for text in labels]
            field["options"] += added
            field["update_time"] = now_v2()
            store.save(table, field)
        return ok([{"id": o["id"], "label": o["label"]} for o in added])

    @api_route(app, "v2", "PATCH", f"{base}/{{field_code}}/options")
    def update_options(field_code: str):
        body = validate_body(account.catalog, "v2", "PATCH", f"{base}/{{field_code}}/options", json_body())
        with store.lock:
            field = _option_field(custom_field(field_code))
            by_id = {o["id"]: o for o in field["options"]}
            missing = [item.get("id") for item in body if item.get("id") not in by_id]
            if missing:
                raise bad_request(f"Unknown option ids: {missing}")
            for item in body:
                by_id[item["id"]]["label"] = item["label"]
                by_id[item["id"]]["update_time"] = now_v2()
            store.save(table, field)
        return ok([{"id": by_id[i["id"]]["id"], "label": by_id[i["id"]]["label"]} for i in body])

    @api_route(app, "v2", "DELETE", f"{base}/{{field_code}}/options")
    def delete_options(field_code: str):
        body = validate_body(account.catalog, "v2", "DELETE", f"{base}/{{field_code}}/options", json_body())
        with store.lock:
            field = _option_field(custom_field(field_code))
            wanted = {item.get("id") for item in body}
            known = {o["id"] for o in field["options"]}
            if wanted - known:
                raise bad_request(f"Unknown option ids: {sorted(wanted - known, key=str)}")
            removed = [o for o in field["options"] if o["id"] in wanted]
            field["options"] = [o for o in field["options"] if o["id"] not in wanted]
            store.save(table, field)
        return ok([{"id": o["id"], "label": o["label"]} for o in removed])


def _option_field(field: dict[str, Any]) -> dict[str, Any]:
    if field["field_type"] not in OPTION_TYPES or not field["is_custom_field"]:
        raise bad_request("Options can only be changed on custom enum or set fields")
    return field


def _option_labels(options: Any, field_type: str, existing: int = 0) -> list[str] | None:
    if field_type not in OPTION_TYPES:
        if options:
            raise bad_request(f"options are only allowed for enum and set fields, not {field_type}")
        return None
    if not isinstance(options, list) or not options:
        raise bad_request(f"options must be given for a field of type {field_type}")
    labels = []
    for option in options:
        text = option.get("label") if isinstance(option, dict) else None
        if not isinstance(text, str) or not text.strip():
            raise bad_request("every option needs a non-empty label")
        labels.append(text)
    if existing + len(labels) > MAX_OPTIONS:
        raise bad_request(f"a field may have at most {MAX_OPTIONS} options")
    return labels


def delete_custom_field(account: Account, table: str, field: dict[str, Any]) -> None:
    if not field["is_custom_field"]:
        raise bad_request("System fields cannot be deleted")
    field["is_deleted"] = True
    field["update_time"] = now_v2()
    account.store.save(table, field)
