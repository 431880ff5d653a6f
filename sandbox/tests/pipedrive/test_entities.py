"""CRUD of v2 entities, v1 notes/files/users, soft deletes and validation."""

from __future__ import annotations

import hashlib

import pytest

ENTITY_BODIES = {
    "organizations": {"name": "Riverside Clinic"},
    "persons": {"name": "Ann Lee", "emails": [{"value": "ann@example.test", "primary": True, "label": "work"}]},
    "deals": {"title": "Treatment plan", "value": 1200, "currency": "GBP"},
    "activities": {"subject": "Call back", "type": "call", "due_date": "2026-02-01", "done": False},
    "pipelines": {"name": "Treatments"},
}


@pytest.mark.parametrize("entity", list(ENTITY_BODIES))
def test_create_get_update_list_delete(pipedrive_sandbox, entity):
    sandbox = pipedrive_sandbox
    created = sandbox.request("POST", f"/api/v2/{entity}", json=ENTITY_BODIES[entity])
    assert created.status_code == 200, created.text
    record = created.json()["data"]
    record_id = record["id"]
    for key, value in ENTITY_BODIES[entity].items():
        if key != "emails":
            assert record[key] == value

    fetched = sandbox.get(f"/api/v2/{entity}/{record_id}").json()["data"]
    assert fetched["id"] == record_id

    name_key = "title" if entity == "deals" else "subject" if entity == "activities" else "name"
    updated = sandbox.request("PATCH", f"/api/v2/{entity}/{record_id}", json={name_key: "Renamed"})
    assert updated.status_code == 200, updated.text
    assert updated.json()["data"][name_key] == "Renamed"

    listed = sandbox.get(f"/api/v2/{entity}", params={"limit": 500}).json()["data"]
    assert record_id in [r["id"] for r in listed]

    deleted = sandbox.request("DELETE", f"/api/v2/{entity}/{record_id}")
    assert deleted.json() == {"success": True, "data": {"id": record_id}}
    listed = sandbox.get(f"/api/v2/{entity}", params={"limit": 500}).json()["data"]
    assert record_id not in [r["id"] for r in listed]
    assert sandbox.get(f"/api/v2/{entity}/{record_id}").status_code == 404
    assert sandbox.request("DELETE", f"/api/v2/{entity}/{record_id}").status_code == 404


def test_stages_belong_to_pipelines(pipedrive_sandbox):
    sandbox = pipedrive_sandbox
    pipeline = sandbox.request("POST", "/api/v2/pipelines", json={"name": "Care"}).json()["data"]
    first = sandbox.request("POST", "/api/v2/stages", json={"name": "Booked", "pipeline_id": pipeline["id"]})
    second = sandbox.request("POST", "/api/v2/stages", json={"name": "Seen", "pipeline_id": pipeline["id"]})
    assert [first.json()["data"]["order_nr"], second.json()["data"]["order_nr"]] == [1, 2]
    stages = sandbox.get("/api/v2/stages", params={"pipeline_id": pipeline["id"]}).json()["data"]
    assert [s["name"] for s in stages] == ["Booked", "Seen"]
    deal = sandbox.request("POST", "/api/v2/deals", json={"title": "X", "stage_id": second.json()["data"]["id"]})
    assert deal.json()["data"]["pipeline_id"] == pipeline["id"]
    missing = sandbox.request("POST", "/api/v2/stages", json={"name": "Orphan", "pipeline_id": 99999})
    assert missing.status_code == 400


def test_deal_status_rules(pipedrive_sandbox):
    sandbox = pipedrive_sandbox
    won = sandbox.request("POST", "/api/v2/deals", json={"title": "W", "status": "won",
                                                         "won_time": "2025-03-01T10:00:00Z"}).json()["data"]
    assert won["won_time"] == "2025-03-01T10:00:00Z" and won["close_time"] == "2025-03-01T10:00:00Z"
    bad = sandbox.request("POST", "/api/v2/deals", json={"title": "L", "status": "open", "lost_reason": "Price"})
    assert bad.status_code == 400 and bad.json()["success"] is False
    assert "lost_reason" in bad.json()["error"]


@pytest.mark.parametrize(("entity", "body"), [
    ("persons", {}),
    ("persons", {"name": 5}),
    ("persons", {"name": "A", "owner_id": "1"}),
    ("organizations", {"name": ""}),
    ("deals", {"value": 3}),
    ("deals", {"title": "T", "value": "3"}),
    ("activities", {"subject": "S", "done": "yes"}),
    ("persons", {"name": "A", "visible_to": 2}),
    ("persons", {"name": "A", "org_id": 99999}),
])
def test_invalid_bodies_are_refused_with_400(pipedrive_sandbox, entity, body):
    response = pipedrive_sandbox.request("POST", f"/api/v2/{entity}", json=body)
    assert response.status_code == 400, response.text
    payload = response.json()
    assert payload["success"] is False and payload["data"] is None and payload["error"]


def test_malformed_json_is_400_not_500(pipedrive_sandbox):
    response = pipedrive_sandbox.request("POST", "/api/v2/persons", data=b"{not json",
                                         headers={"content-type": "application/json"})
    assert response.status_code == 400


def test_auth_header_and_query_and_unknown_token(pipedrive_sandbox):
    sandbox = pipedrive_sandbox
    assert sandbox.http.get(f"{sandbox.api_v2}/persons", params={"api_token": sandbox.api_token}).status_code == 200
    response = sandbox.http.get(f"{sandbox.api_v2}/persons", headers={"x-api-token": "nope"})
    assert response.status_code == 401
    assert response.json()["error"] == "unauthorized access" and response.json()["errorCode"] == 401
    log = sandbox.requests_log()
    assert all(sandbox.api_token not in str(entry) for entry in log)
    assert any(entry["path"] == "/api/v2/persons" for entry in log)


def test_notes_with_past_add_time_and_sanitised_html(pipedrive_sandbox):
    sandbox = pipedrive_sandbox
    person = sandbox.get("/api/v2/persons").json()["data"][0]
    body = {"content": "<p>Seen</p><script>alert(1)</script>", "person_id": person["id"],
            "add_time": "2019-05-04 03:02:01"}
    note = sandbox.request("POST", "/api/v1/notes", json=body).json()["data"]
    assert note["add_time"] == "2019-05-04 03:02:01"
    assert note["content"] == "<p>Seen</p>"
    handlers = {"content": '<p onclick="x()">&lt;img onerror=alert(1)&gt;</p><img src=x onerror=alert(1)>',
                "person_id": person["id"]}
    kept = sandbox.request("POST", "/api/v1/notes", json=handlers).json()["data"]
    assert kept["content"] == "<p>&lt;img onerror=alert(1)&gt;</p><img src=x>"  # escaped text is not a tag
    assert note["person"] == {"name": person["name"]}
    updated = sandbox.request("PUT", f"/api/v1/notes/{note['id']}", json={"content": "<p>Changed</p>"}).json()
    assert updated["data"]["content"] == "<p>Changed</p>"
    assert sandbox.get("/api/v1/notes", params={"person_id": person["id"]}).json()["data"][0]["id"] == note["id"]
    assert sandbox.request("POST", "/api/v1/notes", json={"content": "orphan"}).status_code == 400
    assert sandbox.request("DELETE", f"/api/v1/notes/{note['id']}").json()["success"] is True
    assert sandbox.get(f"/api/v1/notes/{note['id']}").status_code == 404


def test_file_upload_download_delete(pipedrive_sandbox):
    sandbox = pipedrive_sandbox
    deal = sandbox.get("/api/v2/deals").json()["data"][0]
    content = bytes(range(256)) * 40
    uploaded = sandbox.request("POST", "/api/v1/files", files={"file": ("scan.pdf", content, "application/pdf")},
                               data={"deal_id": str(deal["id"])})
    assert uploaded.status_code == 200, uploaded.text
    record = uploaded.json()["data"]
    assert record["file_size"] == len(content) and record["deal_id"] == deal["id"]
    download = sandbox.get(f"/api/v1/files/{record['id']}/download")
    assert download.content == content
    snapshot_file = next(f for f in sandbox.snapshot()["files"] if f["id"] == record["id"])
    assert snapshot_file["sha256"] == hashlib.sha256(content).hexdigest()
    assert sandbox.request("DELETE", f"/api/v1/files/{record['id']}").status_code == 200
    assert sandbox.get(f"/api/v1/files/{record['id']}/download").status_code == 404
    no_link = sandbox.request("POST", "/api/v1/files", files={"file": ("a.txt", b"x")})
    assert no_link.status_code == 400


def test_users_me_find_and_list(pipedrive_sandbox):
    sandbox = pipedrive_sandbox
    me = sandbox.get("/api/v1/users/me").json()["data"]
    assert me["is_you"] is True and me["access"][0]["admin"] is True
    email, token = next(iter(sandbox.user_tokens.items()))
    regular = sandbox.get("/api/v1/users/me", token=token).json()["data"]
    assert regular["email"] == email and regular["access"][0]["admin"] is False
    found = sandbox.get("/api/v1/users/find", params={"term": email, "search_by_email": 1}).json()["data"]
    assert [u["email"] for u in found] == [email]
    users = sandbox.get("/api/v1/users").json()["data"]
    assert len(users) >= 3 and sum(u["is_you"] for u in users) == 1
    types = sandbox.get("/api/v1/activityTypes").json()["data"]
    assert "task" in {t["key_string"] for t in types}


def test_keys_the_spec_does_not_list_are_ignored(pipedrive_sandbox):
    deal = pipedrive_sandbox.request("POST", "/api/v2/deals", json={
        "title": "Old deal", "add_time": "2015-01-01T00:00:00Z", "made_up": 1}).json()["data"]
    assert deal["add_time"] != "2015-01-01T00:00:00Z" and "made_up" not in deal
    person = pipedrive_sandbox.request("POST", "/api/v2/persons", json={
        "name": "Old person", "add_time": "2015-01-01T00:00:00Z"}).json()["data"]
    assert person["add_time"] == "2015-01-01T00:00:00Z"


def test_concurrent_creates_get_unique_ids_and_exact_counts(pipedrive_sandbox_factory):
    from concurrent.futures import ThreadPoolExecutor

    sandbox = pipedrive_sandbox_factory(plan="ultimate")
    sandbox.configure(rate_limits=False)

    def create(i):
        return sandbox.request("POST", "/api/v2/persons", json={"name": f"Parallel {i}"}).json()["data"]["id"]

    with ThreadPoolExecutor(max_workers=8) as pool:
        ids = list(pool.map(create, range(80)))
    assert len(set(ids)) == 80
    assert sandbox.counters()["by_operation"]["v2 POST /persons"] == 80
    assert len(sandbox.snapshot()["persons"]) == 80


def test_an_archived_deal_leaves_the_deals_list_for_the_archived_one(pipedrive_sandbox):
    """v2.yaml: `GET /deals` "returns data about all not archived deals", `GET /deals/archived` the archived ones."""
    sandbox = pipedrive_sandbox
    deal = sandbox.request("POST", "/api/v2/deals", json={"title": "Course of treatment"}).json()["data"]
    archived = sandbox.request("PATCH", f"/api/v2/deals/{deal['id']}", json={"is_archived": True})
    assert archived.status_code == 200 and archived.json()["data"]["is_archived"] is True
    listed = {d["id"] for d in sandbox.get("/api/v2/deals", params={"limit": 500}).json()["data"]}
    in_archive = sandbox.get("/api/v2/deals/archived", params={"ids": str(deal["id"])}).json()["data"]
    assert deal["id"] not in listed and [d["id"] for d in in_archive] == [deal["id"]]
    assert sandbox.get("/api/v2/deals", params={"ids": str(deal["id"])}).json()["data"] == []
    assert sandbox.get(f"/api/v2/deals/{deal['id']}").json()["data"]["id"] == deal["id"]  # still readable by id
    sandbox.request("PATCH", f"/api/v2/deals/{deal['id']}", json={"is_archived": False})
    assert deal["id"] in {d["id"] for d in sandbox.get("/api/v2/deals", params={"limit": 500}).json()["data"]}
    assert sandbox.get("/api/v2/deals/archived").json()["data"] == []
