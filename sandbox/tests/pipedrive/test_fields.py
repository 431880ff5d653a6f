"""Custom fields: keys, options, typed values on records, v1 bulk delete."""

from __future__ import annotations

import re

import pytest

HEX40 = re.compile(r"^[0-9a-f]{40}$")


def create_field(sandbox, family, name, field_type, options=None):
    body = {"field_name": name, "field_type": field_type}
    if options:
        body["options"] = [{"label": label} for label in options]
    response = sandbox.request("POST", f"/api/v2/{family}Fields", json=body)
    assert response.status_code == 200, response.text
    return response.json()["data"]


def test_field_keys_are_40_hex_and_differ_across_accounts(pipedrive_sandbox_factory):
    first = pipedrive_sandbox_factory(seed=7)
    second = pipedrive_sandbox_factory(seed=7)
    key_one = create_field(first, "person", "PracticeHub ID", "varchar")["field_code"]
    key_two = create_field(second, "person", "PracticeHub ID", "varchar")["field_code"]
    assert HEX40.match(key_one) and HEX40.match(key_two)
    assert key_one != key_two


def test_in_use_fixture_has_fields_but_no_practicehub_id(pipedrive_sandbox):
    fields = pipedrive_sandbox.get("/api/v2/personFields").json()["data"]
    custom = {f["field_name"]: f for f in fields if f["is_custom_field"]}
    assert custom["Source"]["field_type"] == "varchar"
    assert custom["Lead channel"]["field_type"] == "enum" and len(custom["Lead channel"]["options"]) == 3
    assert "PracticeHub ID" not in custom
    assert {"name", "emails", "owner_id"} <= {f["field_code"] for f in fields if not f["is_custom_field"]}


def test_typed_custom_values_round_trip(pipedrive_sandbox):
    sandbox = pipedrive_sandbox
    keys = {t: create_field(sandbox, "person", f"F {t}", t)["field_code"]
            for t in ("varchar", "text", "double", "date", "time", "monetary", "address", "phone")}
    enum = create_field(sandbox, "person", "Status", "enum", ["Active", "Archived"])
    tags = create_field(sandbox, "person", "Tags", "set", ["A", "B", "C"])
    values = {keys["varchar"]: "PH-1", keys["text"]: "long text", keys["double"]: 12.5, keys["date"]: "1980-04-01",
              keys["time"]: "09:30:00", keys["monetary"]: {"value": 50, "currency": "GBP"},
              keys["address"]: {"value": "1 High St"}, keys["phone"]: "+44 1234",
              enum["field_code"]: enum["options"][1]["id"],
              tags["field_code"]: [tags["options"][0]["id"], tags["options"][2]["id"]]}
    person = sandbox.request("POST", "/api/v2/persons", json={"name": "Typed", "custom_fields": values})
    assert person.status_code == 200, person.text
    stored = sandbox.get(f"/api/v2/persons/{person.json()['data']['id']}").json()["data"]["custom_fields"]
    assert {k: stored[k] for k in values} == values
    assert stored[next(iter(k for k in stored if k not in values))] is None  # other keys present, null


@pytest.mark.parametrize(("field_type", "options", "bad_value"), [
    ("double", None, "12"),
    ("date", None, "01/02/2020"),
    ("varchar", None, 5),
    ("varchar", None, "x" * 256),
    ("enum", ["A"], 999999),
    ("enum", ["A"], "A"),
    ("set", ["A"], [999999]),
])
def test_bad_custom_values_are_400(pipedrive_sandbox, field_type, options, bad_value):
    key = create_field(pipedrive_sandbox, "deal", "Bad", field_type, options)["field_code"]
    response = pipedrive_sandbox.request("POST", "/api/v2/deals", json={"title": "T", "custom_fields": {key: bad_value}})
    assert response.status_code == 400, response.text


def test_unknown_custom_key_is_400(pipedrive_sandbox):
    response = pipedrive_sandbox.request("POST", "/api/v2/persons",
                                         json={"name": "X", "custom_fields": {"f" * 40: "value"}})
    assert response.status_code == 400 and "Unknown custom field" in response.json()["error"]


def test_field_rename_options_and_delete(pipedrive_sandbox):
    sandbox = pipedrive_sandbox
    field = create_field(sandbox, "organization", "Tier", "enum", ["Gold"])
    code = field["field_code"]
    renamed = sandbox.request("PATCH", f"/api/v2/organizationFields/{code}", json={"field_name": "Level"})
    assert renamed.json()["data"]["field_name"] == "Level" and renamed.json()["data"]["field_code"] == code
    added = sandbox.request("POST", f"/api/v2/organizationFields/{code}/options", json=[{"label": "Silver"}]).json()
    silver = added["data"][0]["id"]
    relabelled = sandbox.request("PATCH", f"/api/v2/organizationFields/{code}/options",
                                 json=[{"id": silver, "label": "Bronze"}])
    assert relabelled.json()["data"] == [{"id": silver, "label": "Bronze"}]
    labels = [o["label"] for o in sandbox.get(f"/api/v2/organizationFields/{code}").json()["data"]["options"]]
    assert labels == ["Gold", "Bronze"]
    removed = sandbox.request("DELETE", f"/api/v2/organizationFields/{code}/options", json=[{"id": silver}])
    assert removed.status_code == 200
    assert sandbox.request("DELETE", f"/api/v2/organizationFields/{code}").status_code == 200
    assert sandbox.get(f"/api/v2/organizationFields/{code}").status_code == 404
    codes = [f["field_code"] for f in sandbox.get("/api/v2/organizationFields").json()["data"]]
    assert code not in codes
    assert sandbox.request("DELETE", "/api/v2/organizationFields/name").status_code == 400


def test_enum_without_options_is_refused(pipedrive_sandbox):
    response = pipedrive_sandbox.request("POST", "/api/v2/dealFields", json={"field_name": "E", "field_type": "enum"})
    assert response.status_code == 400
    response = pipedrive_sandbox.request("POST", "/api/v2/dealFields", json={"field_name": "E", "field_type": "datetime"})
    assert response.status_code == 400


def test_activity_fields_are_read_only(pipedrive_sandbox):
    sandbox = pipedrive_sandbox
    assert sandbox.get("/api/v2/activityFields").status_code == 200
    response = sandbox.request("POST", "/api/v2/activityFields", json={"field_name": "X", "field_type": "varchar"})
    assert response.status_code == 405


def test_v1_bulk_delete_of_fields(pipedrive_sandbox):
    sandbox = pipedrive_sandbox
    made = [create_field(sandbox, "person", f"Tmp {i}", "varchar")["field_code"] for i in range(3)]
    v1_fields = sandbox.get("/api/v1/personFields", params={"limit": 500}).json()["data"]
    ids = [f["id"] for f in v1_fields if f["key"] in made]
    assert len(ids) == 3
    response = sandbox.request("DELETE", "/api/v1/personFields", params={"ids": ",".join(map(str, ids))})
    assert response.json() == {"success": True, "data": {"id": ids}}
    remaining = {f["field_code"] for f in sandbox.get("/api/v2/personFields", params={"limit": 500}).json()["data"]}
    assert not remaining & set(made)
    system_id = next(f["id"] for f in v1_fields if f["key"] == "name")
    assert sandbox.request("DELETE", "/api/v1/personFields", params={"ids": str(system_id)}).status_code == 400


def test_deleted_field_disappears_from_records(pipedrive_sandbox):
    sandbox = pipedrive_sandbox
    code = create_field(sandbox, "person", "Gone", "varchar")["field_code"]
    person = sandbox.request("POST", "/api/v2/persons", json={"name": "P", "custom_fields": {code: "v"}}).json()["data"]
    sandbox.request("DELETE", f"/api/v2/personFields/{code}")
    assert code not in sandbox.get(f"/api/v2/persons/{person['id']}").json()["data"]["custom_fields"]
