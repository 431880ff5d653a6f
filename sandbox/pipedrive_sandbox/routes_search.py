"""v2 search: persons, organizations and deals by term, and itemSearch by one field's value."""

from __future__ import annotations

from typing import Any

from flask import Flask, request

from .account import Account
from .errors import bad_request, ok
from .fields import SEARCHABLE_TYPES, custom_fields_of
from .routing import api_route, current_user, decode_cursor, encode_cursor, int_arg
from .search_index import like_pattern
from .visibility import can_see

MAX_SEARCH_LIMIT = 100
PERSON_FIELDS = ("custom_fields", "email", "notes", "phone", "name")
NAMED = {"person": ("persons", "name"), "organization": ("organizations", "name"), "deal": ("deals", "title")}


def _flag(name: str) -> bool:
    return request.args.get(name, "false").lower() in ("1", "true")


def _term() -> tuple[str, bool]:
    term = request.args.get("term")
    exact = _flag("exact_match")
    if term is None or len(term.strip()) < (1 if exact else 2):
        raise bad_request("term must be at least 2 characters long (1 with exact_match)")
    return term.strip(), exact


def _page(items: list[Any]) -> tuple[list[Any], str | None]:
    limit = int_arg("limit", MAX_SEARCH_LIMIT, 1, MAX_SEARCH_LIMIT)
    offset = decode_cursor(request.args.get("cursor"))
    page = items[offset:offset + limit]
    return page, encode_cursor(offset + limit) if offset + limit < len(items) else None


def _custom_text(record: dict[str, Any], custom: dict[str, dict]) -> list[str]:
    values = []
    for code, value in (record.get("custom_fields") or {}).items():
        field = custom.get(code)
        if field and field["field_type"] in SEARCHABLE_TYPES and value is not None:
            values.append(str(value["value"] if isinstance(value, dict) else value))
    return values


def register(app: Flask, account: Account) -> None:
    store = account.store

    def matching(entity: str, fields: list[str], term: str, mode: str) -> list[dict[str, Any]]:
        """Live records visible to the caller with a term matching in one of `fields`, by id."""
        user = current_user()
        ids = store.search(entity, fields, term if mode == "exact" else like_pattern(term, mode), mode == "exact")
        records = (store.get(entity, record_id) for record_id in ids)
        return [r for r in records if r is not None and can_see(user, r)]

    def searchable_codes(family: str) -> list[str]:
        return [code for code, f in custom_fields_of(store, family).items() if f["field_type"] in SEARCHABLE_TYPES]

    def organization_ref(org_id: int | None) -> dict[str, Any] | None:
        org = store.get("organizations", org_id) if org_id else None
        return {"id": org["id"], "name": org["name"], "address": (org.get("address") or {}).get("value")} if org else None

    @api_route(app, "v2", "GET", "/persons/search")
    def search_persons():
        term, exact = _term()
        wanted = [f for f in request.args.get("fields", ",".join(PERSON_FIELDS)).split(",") if f]
        unknown = set(wanted) - set(PERSON_FIELDS)
        if unknown:
            raise bad_request(f"fields must be among {', '.join(PERSON_FIELDS)}")
        org_filter = int_arg("organization_id")
        custom = custom_fields_of(store, "person")
        index_fields = [f for f in wanted if f != "custom_fields"]
        if "custom_fields" in wanted:
            index_fields += searchable_codes("person")
        hits = []
        for person in matching("persons", index_fields, term, "exact" if exact else "middle"):
            if org_filter is not None and person.get("org_id") != org_filter:
                continue
            emails = [e.get("value") for e in person.get("emails") or []]
            phones = [p.get("value") for p in person.get("phones") or []]
            hits.append({"result_score": 1.0 if exact else 0.5, "item": {
                "id": person["id"], "type": "person", "name": person.get("name"), "phones": phones,
                "emails": emails, "visible_to": person.get("visible_to"), "owner": {"id": person.get("owner_id")},
                "organization": organization_ref(person.get("org_id")),
                "custom_fields": _custom_text(person, custom), "notes": [],
            }})
        page, cursor = _page(hits)
        return ok({"items": page}, {"next_cursor": cursor})

    @api_route(app, "v2", "GET", "/organizations/search")
    def search_organizations():
        term, exact = _term()
        custom = custom_fields_of(store, "organization")
        hits = []
        for org in matching("organizations", ["name", *searchable_codes("organization")], term,
                            "exact" if exact else "middle"):
            hits.append({"result_score": 1.0 if exact else 0.5, "item": {
                "id": org["id"], "type": "organization", "name": org["name"],
                "address": (org.get("address") or {}).get("value"), "visible_to": org.get("visible_to"),
                "owner": {"id": org.get("owner_id")}, "custom_fields": _custom_text(org, custom), "notes": []}})
        page, cursor = _page(hits)
        return ok({"items": page}, {"next_cursor": cursor})

    @api_route(app, "v2", "GET", "/deals/search")
    def search_deals():
        term, exact = _term()
        custom = custom_fields_of(store, "deal")
        hits = []
        for deal in matching("deals", ["title", *searchable_codes("deal")], term, "exact" if exact else "middle"):
            hits.append({"result_score": 1.0 if exact else 0.5, "item": {
                "id": deal["id"], "type": "deal", "title": deal["title"], "value": deal.get("value"),
                "currency": deal.get("currency"), "status": deal.get("status"),
                "visible_to": deal.get("visible_to"), "owner": {"id": deal.get("owner_id")},
                "stage": {"id": deal.get("stage_id")}, "person": None, "organization": None,
                "custom_fields": _custom_text(deal, custom), "notes": []}})
        page, cursor = _page(hits)
        return ok({"items": page}, {"next_cursor": cursor})

    @api_route(app, "v2", "GET", "/itemSearch/field")
    def search_by_field():
        entity_type = request.args.get("entity_type")
        field_key = request.args.get("field")
        term = request.args.get("term")
        match = request.args.get("match", "exact")
        if entity_type not in NAMED:
            raise bad_request("entity_type must be one of person, organization, deal")
        if not field_key or term is None or term == "":
            raise bad_request("field and term must be given")
        if match not in ("exact", "beginning", "middle"):
            raise bad_request("match must be exact, beginning or middle")
        if match != "exact" and len(term) < 2:
            raise bad_request("term must be at least 2 characters long unless match is exact")
        entity, name_key = NAMED[entity_type]
        custom = custom_fields_of(store, entity_type)
        if field_key in custom:
            if custom[field_key]["field_type"] not in SEARCHABLE_TYPES:
                raise bad_request(f"Field {field_key} of type {custom[field_key]['field_type']} is not searchable")
        elif field_key != name_key:
            raise bad_request(f"Unknown or unsearchable field: {field_key}")
        hits = []
        for record in matching(entity, [field_key], term, match):
            value = record.get(name_key) if field_key == name_key else (record.get("custom_fields") or {}).get(field_key)
            if isinstance(value, dict):
                value = value.get("value")
            hits.append({"id": record["id"], "name": record.get(name_key), field_key: value})
        page, cursor = _page(hits)
        return ok(page, {"next_cursor": cursor})
