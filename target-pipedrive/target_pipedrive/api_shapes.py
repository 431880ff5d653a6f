"""What Pipedrive's API takes for each key the target writes, read from the official specs: the parts
of an object it keeps, how a key is emptied, and the largest page a list call may ask for.

Built in, because the target runs without the spec files; `target-pipedrive/tests/test_api_shapes.py` keeps
these tables equal to `v2.yaml`/`v1.yaml`. How a key is emptied follows its schema in the update
operation: `null` where it is nullable (and for custom fields, as documented), `[]` for an array,
`""` for free text, an address with an empty `value` for an address. A key with no empty value in
its schema (ids, numbers, booleans, dates) can be replaced but never removed through the API.
"""

from __future__ import annotations

from typing import Any

# The person and organization address (`postal_address`, `address`): there is no `street`, whose
# text goes into `value` (the full address) only.
ADDRESS_PARTS = ("value", "country", "admin_area_level_1", "admin_area_level_2", "locality", "sublocality",
                 "route", "street_number", "subpremise", "postal_code")
CONTACT_PARTS = ("value", "primary", "label")  # each of a person's emails and phones
NESTED_PARTS = {"address": ADDRESS_PARTS, "postal_address": ADDRESS_PARTS, "emails": CONTACT_PARTS,
                "phones": CONTACT_PARTS, "participants": ("person_id", "primary")}
EMPTY_ADDRESS = {"value": ""}


class NoEmptyValue:
    """Marks a key whose schema has no empty value: once written it cannot be removed through the API."""

    def __repr__(self) -> str:
        return "NO_EMPTY"


NO_EMPTY = NoEmptyValue()

# stream → every top-level key the target writes (besides `custom_fields`) → the value that empties it.
EMPTY_VALUES: dict[str, dict[str, Any]] = {
    "organizations": {"name": "", "owner_id": NO_EMPTY, "address": EMPTY_ADDRESS, "website": None,
                      "industry": None},
    "persons": {"name": "", "owner_id": NO_EMPTY, "org_id": NO_EMPTY, "emails": [], "phones": [],
                "postal_address": EMPTY_ADDRESS, "birthday": ""},
    "deals": {"title": "", "owner_id": NO_EMPTY, "person_id": NO_EMPTY, "org_id": NO_EMPTY, "pipeline_id": NO_EMPTY,
              "stage_id": NO_EMPTY, "value": NO_EMPTY, "currency": "", "status": "", "lost_reason": None,
              "expected_close_date": NO_EMPTY, "close_time": None, "won_time": "", "lost_time": ""},
    "activities": {"subject": "", "type": "", "owner_id": NO_EMPTY, "deal_id": NO_EMPTY, "org_id": NO_EMPTY,
                   "participants": [], "due_date": "", "due_time": "", "duration": "", "done": NO_EMPTY, "note": ""},
    "notes": {"content": "", "add_time": "", "deal_id": NO_EMPTY, "person_id": NO_EMPTY, "org_id": NO_EMPTY,
              "pinned_to_deal_flag": 0, "pinned_to_person_flag": 0, "pinned_to_organization_flag": 0},
}
# Where each stream is written: (version, update operation) — the schema the tables above come from.
UPDATE_OPERATIONS = {"organizations": ("v2", "PATCH", "/organizations/{id}"),
                     "persons": ("v2", "PATCH", "/persons/{id}"), "deals": ("v2", "PATCH", "/deals/{id}"),
                     "activities": ("v2", "PATCH", "/activities/{id}"), "notes": ("v1", "PUT", "/notes/{id}")}

# Lists whose `limit` the spec caps below the usual 500.
PAGE_MAXIMA = {("v1", "/files"): 100, ("v1", "/{entity}/{id}/files"): 100}
DEFAULT_PAGE_MAXIMUM = 500


def empty_value(stream: str, key: str) -> Any:
    """The value that empties `key` of a `stream` record, or NO_EMPTY."""
    return EMPTY_VALUES.get(stream, {}).get(key, NO_EMPTY)


def is_empty(value: Any) -> bool:
    """Unset in Pipedrive's eyes: null, "", [], {} or an address whose parts are all empty."""
    if value is None:
        return True
    if isinstance(value, str):
        return not value.strip()
    if isinstance(value, list | dict):
        return not value or (isinstance(value, dict) and "value" in value and all(is_empty(v) for v in value.values()))
    return False


def kept(stream: str, payload: dict) -> tuple[dict, list[str]]:
    """The part of `payload` Pipedrive keeps (the spec's keys, nested parts included), and the dotted names
    of the keys it would drop. A stream without a table here (files) is returned as it is."""
    known = EMPTY_VALUES.get(stream)
    if known is None:
        return payload, []
    out: dict = {}
    dropped: list[str] = []
    for key, value in payload.items():
        if key != "custom_fields" and key not in known:
            dropped.append(key)
            continue
        parts = NESTED_PARTS.get(key)
        if parts is None:
            out[key] = value
        elif isinstance(value, dict):
            out[key] = _parts(value, parts, key, dropped)
        elif isinstance(value, list):
            out[key] = [_parts(item, parts, key, dropped) if isinstance(item, dict) else item for item in value]
        else:
            out[key] = value
    return out, sorted(set(dropped))


def _parts(value: dict, parts: tuple[str, ...], key: str, dropped: list[str]) -> dict:
    dropped.extend(f"{key}.{k}" for k in value if k not in parts)
    return {k: v for k, v in value.items() if k in parts}


def address(value: Any) -> dict | None:
    """A contract address in the spec's shape: its parts Pipedrive has (`street` is not one: its text is in
    `value`, the full address), empty parts left out; None when nothing is left."""
    if isinstance(value, str):
        return {"value": value} if value.strip() else None
    if not isinstance(value, dict):
        return None
    shaped = {k: value[k] for k in ADDRESS_PARTS if not is_empty(value.get(k))}
    return shaped or None


def page_maximum(version: str, path: str) -> int:
    """The largest `limit` a list call on `path` may send (v1 files lists: 100; others 500)."""
    parts = path.strip("/").split("/")
    if len(parts) == 3 and parts[2] == "files" and parts[1].isdigit():
        path = "/{entity}/{id}/files"
    return PAGE_MAXIMA.get((version, path), DEFAULT_PAGE_MAXIMUM)


def id_of(value: Any) -> int | None:
    """An id as Pipedrive returns it: plain, or an object with `value` (v1) or `id`; None if there is none."""
    if isinstance(value, dict):
        value = value.get("value", value.get("id"))
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None
