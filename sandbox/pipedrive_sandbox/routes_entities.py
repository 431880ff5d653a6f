"""v2 CRUD for persons, organizations, deals, activities, pipelines and stages."""

from __future__ import annotations

from typing import Any

from flask import Flask, request

from .account import Account
from .clock import normalise_v2, now_v2
from .entities import FAMILY_OF_ENTITY, prepare, present
from .errors import ApiError, bad_request, not_found, ok
from .fields import custom_fields_of
from .plan_limits import check_plan_limits
from .routing import api_route, current_user, decode_cursor, encode_cursor, int_arg, json_body, page_limit
from .validation import validate_body
from .visibility import can_see, check_delete, sql_filter

ENTITIES = ("persons", "organizations", "deals", "activities", "pipelines", "stages")
LABELS = {"persons": "Person", "organizations": "Organization", "deals": "Deal", "activities": "Activity",
          "pipelines": "Pipeline", "stages": "Stage"}
SORT_COLUMNS = {"id": "id", "update_time": "update_time", "add_time": "add_time",
                "order_nr": "json_extract(data, '$.order_nr')"}
# List filters that match a top-level key of the stored record.
KEY_FILTERS = {
    "persons": ("org_id",),
    "organizations": (),
    "deals": ("person_id", "org_id", "pipeline_id", "stage_id", "status"),
    "activities": ("deal_id", "person_id", "org_id", "done", "type"),
    "pipelines": (),
    "stages": ("pipeline_id",),
}
DEFAULT_LIMIT = 100


def register(app: Flask, account: Account) -> None:
    for entity in ENTITIES:
        _register_entity(app, account, entity)


def _register_entity(app: Flask, account: Account, entity: str) -> None:
    store, catalog = account.store, account.catalog
    label = LABELS[entity]

    def visible_record(record_id: int) -> dict[str, Any]:
        record = store.get(entity, record_id)
        if record is None:
            raise not_found(label)
        if not can_see(current_user(), record):
            raise ApiError(403, f"You do not have permission to access this {label.lower()}")
        return record

    def custom_subset() -> dict[str, dict] | None:
        if entity not in FAMILY_OF_ENTITY:
            return None
        custom = custom_fields_of(store, FAMILY_OF_ENTITY[entity])
        wanted = request.args.get("custom_fields")
        if wanted is not None:
            keys = {k for k in wanted.split(",") if k}
            custom = {k: v for k, v in custom.items() if k in keys}
        return custom

    def list_records(archived: bool | None = None):
        """A list page; deals: `GET /deals` holds the not archived ones, `GET /deals/archived` the others."""
        limit = page_limit(DEFAULT_LIMIT)
        offset = decode_cursor(request.args.get("cursor"))
        clauses, params = [], []
        if archived is not None:
            clauses.append("COALESCE(json_extract(data, '$.is_archived'), 0) = ?")
            params.append(1 if archived else 0)
        where, args = sql_filter(current_user())
        if where:
            clauses.append(where)
            params += args
        if request.args.get("ids"):
            try:
                ids = [int(i) for i in request.args["ids"].split(",") if i.strip()]
            except ValueError as exc:
                raise bad_request("ids must be a comma-separated list of integers") from exc
            clauses.append(f"id IN ({','.join('?' * len(ids))})" if ids else "0")
            params += ids
        owner_id = int_arg("owner_id")
        if owner_id is not None:
            clauses.append("owner_id = ?")
            params.append(owner_id)
        for key in KEY_FILTERS[entity]:
            raw = request.args.get(key)
            if raw is None:
                continue
            value: Any = raw
            if key.endswith("_id"):
                value = int_arg(key)
            elif key == "done":
                value = raw.lower() in ("1", "true")
            clauses.append(f"json_extract(data, '$.{key}') = ?")
            params.append(value)
        for name, operator in (("updated_since", ">="), ("updated_until", "<")):
            if request.args.get(name):
                try:
                    params.append(normalise_v2(request.args[name]))
                except ValueError as exc:
                    raise bad_request(f"{name} must be an RFC 3339 date-time") from exc
                clauses.append(f"update_time {operator} ?")
        sort_by = request.args.get("sort_by", "id")
        direction = request.args.get("sort_direction", "asc")
        if sort_by not in SORT_COLUMNS or (sort_by == "order_nr" and entity != "stages"):
            raise bad_request(f"sort_by must be one of {', '.join(k for k in SORT_COLUMNS if k != 'order_nr')}")
        if direction not in ("asc", "desc"):
            raise bad_request("sort_direction must be asc or desc")
        order = f"{SORT_COLUMNS[sort_by]} {direction.upper()}, id {direction.upper()}"
        rows = store.query(entity, " AND ".join(f"({c})" for c in clauses), params, order=order,
                           limit=limit + 1, offset=offset)
        more = len(rows) > limit
        custom = custom_subset()
        data = [present(store, catalog, entity, r, custom) for r in rows[:limit]]
        return ok(data, {"next_cursor": encode_cursor(offset + limit) if more else None})

    if entity == "deals":
        api_route(app, "v2", "GET", "/deals")(lambda: list_records(archived=False))
        api_route(app, "v2", "GET", "/deals/archived")(lambda: list_records(archived=True))
    else:
        api_route(app, "v2", "GET", f"/{entity}")(list_records)

    @api_route(app, "v2", "GET", f"/{entity}/{{id}}")
    def get_record(id: int):  # noqa: A002 - the spec's path parameter name
        return ok(present(store, catalog, entity, visible_record(id), custom_subset()))

    @api_route(app, "v2", "POST", f"/{entity}")
    def create_record():
        body = validate_body(catalog, "v2", "POST", f"/{entity}", json_body())
        with store.lock:
            record = prepare(store, entity, body, None, current_user())
            check_plan_limits(account, entity, record, None)
            store.insert(entity, record)
        return ok(present(store, catalog, entity, record))

    @api_route(app, "v2", "PATCH", f"/{entity}/{{id}}")
    def update_record(id: int):  # noqa: A002
        body = validate_body(catalog, "v2", "PATCH", f"/{entity}/{{id}}", json_body())
        with store.lock:
            current = visible_record(id)
            record = prepare(store, entity, body, current, current_user())
            check_plan_limits(account, entity, record, current)
            store.save(entity, record)
        return ok(present(store, catalog, entity, record))

    @api_route(app, "v2", "DELETE", f"/{entity}/{{id}}")
    def delete_record(id: int):  # noqa: A002
        with store.lock:
            record = visible_record(id)
            check_delete(current_user(), record)
            soft_delete(account, entity, record)
        return ok({"id": id})


def soft_delete(account: Account, entity: str, record: dict[str, Any]) -> None:
    """Mark deleted (Pipedrive purges after 30 days); a pipeline takes its stages with it."""
    record["is_deleted"] = True
    record["update_time"] = now_v2()
    account.store.save(entity, record)
    if entity == "pipelines":
        for stage in account.store.query("stages", "json_extract(data, '$.pipeline_id') = ?", [record["id"]]):
            stage["is_deleted"] = True
            account.store.save("stages", stage)
