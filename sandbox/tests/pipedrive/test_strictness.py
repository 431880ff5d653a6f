"""The sandbox answers as the spec allows: unknown keys dropped at every depth, nulls refused where the
schema is not nullable, emptied values read back as unset, list limits as documented, plan limits."""

from __future__ import annotations

import pytest
from openapi_core.exceptions import OpenAPIError

LIMIT_REACHED = "Request not allowed. User account has reached a limit for an entity."


def _error_envelope(response, status: int) -> dict:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["success"] is False and body["data"] is None and body["additional_data"] is None
    assert isinstance(body["error"], str) and isinstance(body["error_info"], str)
    return body


def test_keys_the_schema_does_not_define_are_dropped_at_every_depth(pipedrive_sandbox, conformance):
    sandbox = pipedrive_sandbox
    sent = sandbox.request("POST", "/api/v2/persons", json={
        "name": "Nested Keys", "nickname": "NK",
        "postal_address": {"value": "5 Beach Rd, Bondi", "street": "5 Beach Rd", "locality": "Bondi"},
        "emails": [{"value": "nk@example.test", "primary": True, "label": "home", "verified": True}]})
    assert sent.status_code == 200, sent.text
    with pytest.raises(OpenAPIError, match="street"):
        conformance.check(sent)  # the conformance layer counts the unknown keys as request violations
    person = sandbox.get(f"/api/v2/persons/{sent.json()['data']['id']}").json()["data"]
    assert person["postal_address"] == {"value": "5 Beach Rd, Bondi", "locality": "Bondi"}
    assert person["emails"] == [{"value": "nk@example.test", "primary": True, "label": "home"}]
    assert "nickname" not in person
    stored = next(p for p in sandbox.snapshot()["persons"] if p["id"] == person["id"])
    assert "street" not in stored["postal_address"] and "nickname" not in stored


@pytest.mark.parametrize(("path", "body", "where"), [
    ("/api/v2/persons/1", {"org_id": None}, "org_id"),
    ("/api/v2/persons/1", {"phones": None}, "phones"),
    ("/api/v2/persons/1", {"postal_address": {"value": None}}, "postal_address.value"),
    ("/api/v2/organizations/1", {"address": None}, "address"),
    ("/api/v2/deals/1", {"won_time": None}, "won_time"),
])
def test_null_is_refused_where_the_schema_is_not_nullable(pipedrive_sandbox, path, body, where):
    before = pipedrive_sandbox.get(path).json()["data"]
    refused = _error_envelope(pipedrive_sandbox.request("PATCH", path, json=body), 400)
    assert where in refused["error"] and "not nullable" in refused["error"]
    assert pipedrive_sandbox.get(path).json()["data"] == before


def test_null_clears_nullable_keys_and_custom_fields(pipedrive_sandbox):
    sandbox = pipedrive_sandbox
    segment = next(f for f in sandbox.get("/api/v2/organizationFields").json()["data"] if f["field_name"] == "Segment")
    option = segment["options"][0]["id"]
    set_up = sandbox.request("PATCH", "/api/v2/organizations/1", json={
        "website": "https://x.example", "custom_fields": {segment["field_code"]: option}})
    assert set_up.status_code == 200, set_up.text
    cleared = sandbox.request("PATCH", "/api/v2/organizations/1", json={
        "website": None, "custom_fields": {segment["field_code"]: None}})
    assert cleared.status_code == 200, cleared.text
    organization = sandbox.get("/api/v2/organizations/1").json()["data"]
    assert organization["website"] is None and organization["custom_fields"][segment["field_code"]] is None


def test_emptied_text_arrays_and_addresses_read_back_unset(pipedrive_sandbox):
    sandbox = pipedrive_sandbox
    person = sandbox.request("POST", "/api/v2/persons", json={
        "name": "To Be Emptied", "phones": [{"value": "+44 1", "primary": True}], "job_title": "Nurse",
        "postal_address": {"value": "1 High St, Leeds", "locality": "Leeds"}}).json()["data"]
    emptied = sandbox.request("PATCH", f"/api/v2/persons/{person['id']}", json={
        "phones": [], "job_title": "", "postal_address": {"value": ""}})
    assert emptied.status_code == 200, emptied.text
    read = sandbox.get(f"/api/v2/persons/{person['id']}").json()["data"]
    assert read["phones"] == [] and read["job_title"] is None and read["postal_address"] is None
    organization = sandbox.request("POST", "/api/v2/organizations", json={
        "name": "Emptied Org", "address": {"value": "2 Low St", "postal_code": "LS1"}}).json()["data"]
    sandbox.request("PATCH", f"/api/v2/organizations/{organization['id']}", json={"address": {"value": ""}})
    assert sandbox.get(f"/api/v2/organizations/{organization['id']}").json()["data"]["address"] is None


@pytest.mark.parametrize(("path", "allowed", "refused"), [
    ("/api/v1/files", 100, 101),  # the spec's `maximum: 100`
    ("/api/v1/persons/1/files", 100, 101),
    ("/api/v2/persons", 500, 501),  # "a maximum value of 500 is allowed"
    ("/api/v2/personFields", 500, 501),
    ("/api/v1/notes", 500, 501),  # undocumented in the spec: the README's v1 maximum
])
def test_list_limits_are_the_documented_maxima(pipedrive_sandbox, path, allowed, refused):
    assert pipedrive_sandbox.get(path, params={"limit": allowed}).status_code == 200
    body = _error_envelope(pipedrive_sandbox.get(path, params={"limit": refused}), 400)
    assert str(allowed) in body["error"]


def test_custom_fields_per_company_are_limited_by_plan(pipedrive_sandbox_factory):
    sandbox = pipedrive_sandbox_factory(plan="lite", fixture="empty")
    sandbox.configure(rate_limits=False)  # the burst window is not what this test is about
    families = ("person", "organization", "deal")
    created = []
    for i in range(30):  # Lite: 30 custom fields for all entities together
        response = sandbox.request("POST", f"/api/v2/{families[i % 3]}Fields",
                                   json={"field_name": f"F{i}", "field_type": "varchar"})
        assert response.status_code == 200, (i, response.text)
        created.append((families[i % 3], response.json()["data"]["field_code"]))
    refused = _error_envelope(sandbox.request("POST", "/api/v2/dealFields",
                                              json={"field_name": "One too many", "field_type": "varchar"}), 403)
    assert refused["error"] == LIMIT_REACHED and "30" in refused["error_info"]
    assert len([f for f in sandbox.get("/api/v2/dealFields").json()["data"] if f["is_custom_field"]]) == 10

    family, code = created[0]
    assert sandbox.request("DELETE", f"/api/v2/{family}Fields/{code}").status_code == 200
    assert sandbox.request("POST", "/api/v2/dealFields", json={"field_name": "Room again",
                                                               "field_type": "varchar"}).status_code == 200
    assert sandbox.request("POST", "/api/v2/dealFields", json={"field_name": "Full again",
                                                               "field_type": "varchar"}).status_code == 403
    assert sandbox.configure(plan="growth")["custom_field_limit"] == 100
    assert sandbox.request("POST", "/api/v2/dealFields", json={"field_name": "Growth",
                                                               "field_type": "varchar"}).status_code == 200


def _fill_open_deals(sandbox, count: int) -> None:
    """Open deals stored directly (thousands of API calls would only slow the test down)."""
    store = sandbox.account.store
    stage = store.query("stages", limit=1)[0]
    with store.transaction():
        for i in range(count):
            store.insert("deals", {"title": f"Bulk {i}", "status": "open", "pipeline_id": stage["pipeline_id"],
                                   "stage_id": stage["id"], "owner_id": 1, "visible_to": 3, "is_deleted": False,
                                   "custom_fields": {}, "value": 0, "currency": "USD"})


def test_open_deals_are_limited_by_plan_and_seats(pipedrive_sandbox_factory):
    sandbox = pipedrive_sandbox_factory(plan="lite", seats=1, fixture="empty")
    assert sandbox.configure()["open_deal_limit"] == 2_500
    _fill_open_deals(sandbox, 2_499)
    assert sandbox.request("POST", "/api/v2/deals", json={"title": "The 2,500th"}).status_code == 200
    refused = _error_envelope(sandbox.request("POST", "/api/v2/deals", json={"title": "Over"}), 403)
    assert refused["error"] == LIMIT_REACHED and "2500" in refused["error_info"]
    won = sandbox.request("POST", "/api/v2/deals", json={"title": "Closed", "status": "won"})
    assert won.status_code == 200, won.text  # closed deals do not count
    deal_id = won.json()["data"]["id"]
    assert sandbox.request("PATCH", f"/api/v2/deals/{deal_id}", json={"status": "open"}).status_code == 403
    assert sandbox.get(f"/api/v2/deals/{deal_id}").json()["data"]["status"] == "won"
    sandbox.configure(seats=2)
    assert sandbox.request("PATCH", f"/api/v2/deals/{deal_id}", json={"status": "open"}).status_code == 200
    sandbox.configure(seats=1, plan_limits=False)
    assert sandbox.request("POST", "/api/v2/deals", json={"title": "Limits off"}).status_code == 200


def test_builtin_page_maxima_match_the_specs(spec_dicts):
    from pipedrive_sandbox.spec import FALLBACK_PAGE_MAXIMA, SpecCatalog

    catalog = SpecCatalog(spec_dicts)
    assert {key: catalog.page_maximum(*key) for key in FALLBACK_PAGE_MAXIMA} == FALLBACK_PAGE_MAXIMA
