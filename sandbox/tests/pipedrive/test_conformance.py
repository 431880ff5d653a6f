"""Every implemented operation, called for real, validated against Pipedrive's official OpenAPI specs."""

from __future__ import annotations

import pytest
from openapi_core.exceptions import OpenAPIError

ENTITY_BODIES = {
    "persons": ({"name": "Conform Person", "emails": [{"value": "c@example.test", "primary": True, "label": "work"}],
                 "phones": [{"value": "+44 1", "primary": True, "label": "mobile"}], "visible_to": 3},
                {"name": "Conform Person 2"}),
    "organizations": ({"name": "Conform Org", "address": {"value": "1 High St", "locality": "Leeds"}},
                      {"name": "Conform Org 2"}),
    "deals": ({"title": "Conform Deal", "value": 100.5, "currency": "GBP", "status": "open"},
              {"status": "won", "won_time": "2025-01-01T10:00:00Z"}),
    "activities": ({"subject": "Conform Call", "type": "call", "due_date": "2026-03-01", "due_time": "10:30",
                    "duration": "00:30", "done": False, "note": "<p>hi</p>"},
                   {"done": True}),
    "pipelines": ({"name": "Conform Pipeline"}, {"name": "Conform Pipeline 2"}),
}


@pytest.mark.parametrize("entity", list(ENTITY_BODIES))
def test_entity_crud_conforms(pipedrive_sandbox, conformance, entity):
    sandbox, check = pipedrive_sandbox, conformance.check
    create_body, update_body = ENTITY_BODIES[entity]
    record = check(sandbox.request("POST", f"/api/v2/{entity}", json=create_body)).json()["data"]
    check(sandbox.get(f"/api/v2/{entity}/{record['id']}"))
    check(sandbox.request("PATCH", f"/api/v2/{entity}/{record['id']}", json=update_body))
    check(sandbox.get(f"/api/v2/{entity}", params={"limit": 2}))
    check(sandbox.get(f"/api/v2/{entity}", params={"limit": 500, "sort_by": "update_time",
                                                   "sort_direction": "desc"}))
    check(sandbox.request("DELETE", f"/api/v2/{entity}/{record['id']}"))


def test_stages_conform(pipedrive_sandbox, conformance):
    sandbox, check = pipedrive_sandbox, conformance.check
    stage = check(sandbox.request("POST", "/api/v2/stages", json={"name": "Booked", "pipeline_id": 1,
                                                                  "deal_probability": 50})).json()["data"]
    check(sandbox.get(f"/api/v2/stages/{stage['id']}"))
    check(sandbox.request("PATCH", f"/api/v2/stages/{stage['id']}", json={"name": "Booked in"}))
    check(sandbox.get("/api/v2/stages", params={"pipeline_id": 1, "sort_by": "order_nr"}))
    check(sandbox.request("DELETE", f"/api/v2/stages/{stage['id']}"))


@pytest.mark.parametrize("family", ["person", "organization", "deal"])
def test_fields_conform(pipedrive_sandbox, conformance, family):
    sandbox, check = pipedrive_sandbox, conformance.check
    base = f"/api/v2/{family}Fields"
    check(sandbox.get(base))
    check(sandbox.get(base, params={"include_fields": "ui_visibility", "limit": 5}))
    text = check(sandbox.request("POST", base, json={"field_name": "Ref", "field_type": "varchar"})).json()["data"]
    enum = check(sandbox.request("POST", base, json={"field_name": "Kind", "field_type": "enum",
                                                     "options": [{"label": "A"}, {"label": "B"}]})).json()["data"]
    check(sandbox.get(f"{base}/{text['field_code']}"))
    check(sandbox.request("PATCH", f"{base}/{text['field_code']}", json={"field_name": "Reference"}))
    added = check(sandbox.request("POST", f"{base}/{enum['field_code']}/options", json=[{"label": "C"}])).json()
    option_id = added["data"][0]["id"]
    check(sandbox.request("PATCH", f"{base}/{enum['field_code']}/options", json=[{"id": option_id, "label": "D"}]))
    check(sandbox.request("DELETE", f"{base}/{enum['field_code']}/options", json=[{"id": option_id}]))
    check(sandbox.request("DELETE", f"{base}/{text['field_code']}"))
    v1_fields = check(sandbox.get(f"/api/v1/{family}Fields")).json()["data"]
    enum_id = next(f["id"] for f in v1_fields if f["key"] == enum["field_code"])
    check(sandbox.request("DELETE", f"/api/v1/{family}Fields", params={"ids": str(enum_id)}))


def test_activity_fields_conform(pipedrive_sandbox, conformance):
    check = conformance.check
    fields = check(pipedrive_sandbox.get("/api/v2/activityFields")).json()["data"]
    check(pipedrive_sandbox.get(f"/api/v2/activityFields/{fields[1]['field_code']}"))


def test_custom_field_values_conform(pipedrive_sandbox, conformance):
    sandbox, check = pipedrive_sandbox, conformance.check
    key = sandbox.request("POST", "/api/v2/dealFields", json={"field_name": "Amount", "field_type": "monetary"})
    code = key.json()["data"]["field_code"]
    deal = check(sandbox.request("POST", "/api/v2/deals", json={
        "title": "Custom", "custom_fields": {code: {"value": 5, "currency": "EUR"}}})).json()["data"]
    check(sandbox.get("/api/v2/deals", params={"ids": str(deal["id"]), "custom_fields": code}))


def test_search_conforms(pipedrive_sandbox, conformance):
    sandbox, check = pipedrive_sandbox, conformance.check
    person = sandbox.get("/api/v2/persons").json()["data"][0]
    email = person["emails"][0]["value"]
    found = check(sandbox.get("/api/v2/persons/search", params={"term": email, "fields": "email",
                                                                "exact_match": "true"})).json()
    assert found["data"]["items"][0]["item"]["id"] == person["id"]
    check(sandbox.get("/api/v2/organizations/search", params={"term": "in", "limit": 5}))
    check(sandbox.get("/api/v2/deals/search", params={"term": "deal"}))
    source = next(f["field_code"] for f in sandbox.get("/api/v2/personFields").json()["data"]
                  if f["field_name"] == "Source")
    hits = check(sandbox.get("/api/v2/itemSearch/field", params={
        "entity_type": "person", "field": source, "term": "Trade show", "match": "exact"})).json()["data"]
    assert hits


def test_notes_conform(pipedrive_sandbox, conformance):
    sandbox, check = pipedrive_sandbox, conformance.check
    note = check(sandbox.request("POST", "/api/v1/notes", json={
        "content": "<p>Visit</p>", "deal_id": 1, "add_time": "2020-01-02 03:04:05"})).json()["data"]
    check(sandbox.get(f"/api/v1/notes/{note['id']}"))
    check(sandbox.request("PUT", f"/api/v1/notes/{note['id']}", json={"content": "<p>Visit 2</p>"}))
    check(sandbox.get("/api/v1/notes", params={"deal_id": 1, "start": 0, "limit": 10}))
    check(sandbox.request("DELETE", f"/api/v1/notes/{note['id']}"))


def test_files_conform(pipedrive_sandbox, conformance):
    sandbox, check = pipedrive_sandbox, conformance.check
    uploaded = check(sandbox.request("POST", "/api/v1/files", files={"file": ("x.txt", b"hello", "text/plain")},
                                     data={"person_id": "1"})).json()["data"]
    check(sandbox.get("/api/v1/files"))
    attached = check(sandbox.get("/api/v1/persons/1/files")).json()["data"]
    assert [f["id"] for f in attached] == [uploaded["id"]]
    assert check(sandbox.get("/api/v1/deals/1/files")).json()["data"] == []
    check(sandbox.get(f"/api/v1/files/{uploaded['id']}"))
    check(sandbox.get(f"/api/v1/files/{uploaded['id']}/download"))
    check(sandbox.request("DELETE", f"/api/v1/files/{uploaded['id']}"))


def test_users_and_activity_types_conform(pipedrive_sandbox, conformance):
    sandbox, check = pipedrive_sandbox, conformance.check
    check(sandbox.get("/api/v1/users"))
    check(sandbox.get("/api/v1/users/me"))
    check(sandbox.get("/api/v1/users/1"))
    check(sandbox.get("/api/v1/users/find", params={"term": "admin@", "search_by_email": 1}))
    check(sandbox.get("/api/v1/activityTypes"))


@pytest.mark.parametrize(("method", "path", "body"), [
    ("POST", "/api/v2/organizations", {}),  # name is required by the spec
    ("POST", "/api/v2/organizations", {"name": 7}),
    ("POST", "/api/v2/deals", {"title": "T", "value": "100"}),  # no string → number coercion
    ("POST", "/api/v2/stages", {"name": "S"}),  # pipeline_id required
    ("POST", "/api/v2/personFields", {"field_name": "F", "field_type": "datetime"}),
    ("PATCH", "/api/v2/persons/1", {"visible_to": "3"}),
    ("POST", "/api/v1/notes", {"deal_id": 1}),  # content required
])
def test_requests_the_spec_forbids_are_refused(pipedrive_sandbox, conformance, method, path, body):
    response = pipedrive_sandbox.request(method, path, json=body)
    assert response.status_code == 400, response.text
    assert response.json()["success"] is False
    with pytest.raises(OpenAPIError):
        conformance.check(response)
