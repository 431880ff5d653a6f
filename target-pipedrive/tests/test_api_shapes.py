"""The target's built-in view of the spec (`api_shapes`) equals the official specs, and uses it right."""

from __future__ import annotations

import pytest
from pipedrive_sandbox.spec import SpecCatalog, merged_properties
from target_pipedrive.api_shapes import (
    ADDRESS_PARTS,
    CONTACT_PARTS,
    EMPTY_VALUES,
    NESTED_PARTS,
    NO_EMPTY,
    UPDATE_OPERATIONS,
    address,
    is_empty,
    kept,
    page_maximum,
)
from target_pipedrive.rollback import _restorable
from target_pipedrive.verify import field_diffs


@pytest.fixture(scope="module")
def catalog(spec_dicts) -> SpecCatalog:
    return SpecCatalog(spec_dicts)


def _flat(schema: dict) -> dict:
    parts = schema.get("allOf") or []
    if len(parts) == 1 and "type" not in schema:
        return {**parts[0], **{k: v for k, v in schema.items() if k != "allOf"}}
    return schema


def spec_empty_value(schema: dict):
    """How the spec lets a client empty a key: null if nullable, [] for arrays, an empty address, "" for
    free text, 0 for a 0/1 flag; nothing for ids, numbers, booleans, enums and formatted strings."""
    schema = _flat(schema)
    if schema.get("nullable"):
        return None
    kind = schema.get("type")
    if kind == "array":
        return []
    if kind == "object" and "value" in schema.get("properties", {}):
        return {"value": ""}
    if kind == "string" and "format" not in schema and "enum" not in schema:
        return ""
    if schema.get("enum") == [0, 1]:
        return 0
    return NO_EMPTY


@pytest.mark.parametrize("stream", list(EMPTY_VALUES))
def test_each_written_key_is_emptied_as_its_update_schema_allows(catalog, stream):
    version, method, path = UPDATE_OPERATIONS[stream]
    properties = merged_properties(catalog.body_schema(version, method, path))
    response = catalog.response_properties(version, "GET", path)
    for key, empty in EMPTY_VALUES[stream].items():
        assert key in properties, f"{stream}.{key} is not in {method} {path}"
        assert key in response, f"{stream}.{key} is not returned by GET {path}: Pipedrive does not keep it"
        assert empty == spec_empty_value(properties[key]), (stream, key)


@pytest.mark.parametrize(("stream", "key"), [("persons", "postal_address"), ("organizations", "address"),
                                             ("persons", "emails"), ("persons", "phones"),
                                             ("activities", "participants")])
def test_nested_parts_are_the_specs(catalog, stream, key):
    version, method, path = UPDATE_OPERATIONS[stream]
    schema = merged_properties(catalog.body_schema(version, method, path))[key]
    schema = schema.get("items", schema)
    assert tuple(schema["properties"]) == NESTED_PARTS[key]
    assert NESTED_PARTS["postal_address"] == ADDRESS_PARTS and NESTED_PARTS["emails"] == CONTACT_PARTS


@pytest.mark.parametrize(("version", "path"), [("v1", "/files"), ("v1", "/persons/{id}/files"),
                                               ("v1", "/deals/{id}/files"), ("v1", "/organizations/{id}/files"),
                                               ("v1", "/notes"), ("v2", "/persons"), ("v2", "/personFields")])
def test_page_maxima_are_the_specs(catalog, version, path):
    concrete = path.replace("{id}", "7")
    assert page_maximum(version, concrete) == catalog.page_maximum(version, "GET", path)


def test_a_contract_address_becomes_the_specs_address():
    contract = {"value": "5 Beach Rd, Bondi 2026, Australia", "street": "5 Beach Rd", "locality": "Bondi",
                "postal_code": "2026", "country": "Australia"}
    assert address(contract) == {"value": "5 Beach Rd, Bondi 2026, Australia", "locality": "Bondi",
                                 "postal_code": "2026", "country": "Australia"}
    assert address({"value": "1 X St", "street": "1 X St", "locality": None}) == {"value": "1 X St"}
    assert address({"street": None, "value": ""}) is None and address(None) is None
    assert address("12 Some St") == {"value": "12 Some St"}


def test_emptiness_and_the_kept_part():
    assert all(is_empty(v) for v in (None, "", " ", [], {}, {"value": ""}, {"value": None, "locality": ""}))
    assert not any(is_empty(v) for v in (0, False, "x", [None], {"value": 0, "currency": "EUR"}, {"start": "x"}))
    part, dropped = kept("persons", {"name": "A", "nickname": "B", "postal_address": {"value": "v", "street": "s"},
                                     "emails": [{"value": "a@x.test", "verified": True}], "custom_fields": {"k": 1}})
    assert part == {"name": "A", "postal_address": {"value": "v"}, "emails": [{"value": "a@x.test"}],
                    "custom_fields": {"k": 1}}
    assert dropped == ["emails.verified", "nickname", "postal_address.street"]


def test_verify_compares_only_what_pipedrive_keeps():
    row = {"source_id": "patients:1", "pipedrive_id": 5,
           "sent": {"name": "A", "postal_address": {"value": "1 X St", "street": "1 X St"}, "phones": []}}
    actual = {"id": 5, "name": "A", "postal_address": {"value": "1 X St"}, "phones": None}
    not_kept: set[str] = set()
    assert field_diffs("persons", row, actual, not_kept) == []
    assert not_kept == {"persons.postal_address.street"}
    actual["postal_address"] = {"value": "2 Y St"}
    assert [d["field"] for d in field_diffs("persons", row, actual)] == ["postal_address"]


def test_restores_empty_what_was_empty_the_way_the_spec_allows():
    prior = {"name": "Before", "org_id": None, "phones": [], "postal_address": None, "birthday": None,
             "emails": [{"value": "a@x.test", "primary": True, "label": "work"}],
             "custom_fields": {"k1": None, "k2": [], "k3": {"value": 5, "currency": "EUR"}}}
    assert _restorable("persons", prior) == {
        "name": "Before", "phones": [], "postal_address": {"value": ""}, "birthday": "",
        "emails": [{"value": "a@x.test", "primary": True, "label": "work"}],
        "custom_fields": {"k1": None, "k2": None, "k3": {"value": 5, "currency": "EUR"}}}
    assert _restorable("organizations", {"address": None, "website": None, "industry": None, "owner_id": 3}) == {
        "address": {"value": ""}, "website": None, "industry": None, "owner_id": 3}
