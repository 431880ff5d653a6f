"""Search endpoints, visibility of records to regular users, and pagination."""

from __future__ import annotations


def test_person_search_by_exact_email(pipedrive_sandbox):
    sandbox = pipedrive_sandbox
    created = sandbox.request("POST", "/api/v2/persons", json={
        "name": "Search Me", "emails": [{"value": "Search.Me@Example.test", "primary": True}]}).json()["data"]
    params = {"term": "search.me@example.test", "fields": "email", "exact_match": "true"}
    items = sandbox.get("/api/v2/persons/search", params=params).json()["data"]["items"]
    assert [i["item"]["id"] for i in items] == [created["id"]]
    assert items[0]["item"]["emails"] == ["Search.Me@Example.test"]
    params["term"] = "search.me@example"
    assert sandbox.get("/api/v2/persons/search", params=params).json()["data"]["items"] == []
    params["exact_match"] = "false"
    assert len(sandbox.get("/api/v2/persons/search", params=params).json()["data"]["items"]) == 1
    assert sandbox.get("/api/v2/persons/search", params={"term": "x", "fields": "bogus"}).status_code == 400


def test_item_search_by_custom_field(pipedrive_sandbox):
    sandbox = pipedrive_sandbox
    key = sandbox.request("POST", "/api/v2/personFields", json={
        "field_name": "PracticeHub ID", "field_type": "varchar"}).json()["data"]["field_code"]
    person = sandbox.request("POST", "/api/v2/persons", json={
        "name": "Has ID", "custom_fields": {key: "patients:42"}}).json()["data"]
    sandbox.request("POST", "/api/v2/persons", json={"name": "Other", "custom_fields": {key: "patients:420"}})
    params = {"entity_type": "person", "field": key, "term": "patients:42", "match": "exact"}
    hits = sandbox.get("/api/v2/itemSearch/field", params=params).json()["data"]
    assert [h["id"] for h in hits] == [person["id"]]
    params["match"] = "beginning"
    assert len(sandbox.get("/api/v2/itemSearch/field", params=params).json()["data"]) == 2
    enum_key = next(f["field_code"] for f in sandbox.get("/api/v2/personFields").json()["data"]
                    if f["field_name"] == "Lead channel")
    params.update(field=enum_key, match="exact")
    assert sandbox.get("/api/v2/itemSearch/field", params=params).status_code == 400


def test_regular_user_sees_shared_and_own_records_only(pipedrive_sandbox):
    sandbox = pipedrive_sandbox
    (email_two, token_two), (email_three, token_three) = list(sandbox.user_tokens.items())[:2]
    users = {u["email"]: u["id"] for u in sandbox.get("/api/v1/users").json()["data"]}
    private = sandbox.request("POST", "/api/v2/persons", token=token_two,
                              json={"name": "Private", "visible_to": 1}).json()["data"]
    assert private["owner_id"] == users[email_two]
    shared = sandbox.request("POST", "/api/v2/persons", token=token_two, json={"name": "Shared"}).json()["data"]

    def ids(token):
        return {p["id"] for p in sandbox.get("/api/v2/persons", token=token, params={"limit": 500}).json()["data"]}

    assert private["id"] in ids(token_two) and private["id"] in ids(None)  # owner and admin
    assert private["id"] not in ids(token_three) and shared["id"] in ids(token_three)
    assert sandbox.get(f"/api/v2/persons/{private['id']}", token=token_three).status_code == 403
    search = sandbox.get("/api/v2/persons/search", token=token_three, params={"term": "Private", "fields": "name"})
    assert search.json()["data"]["items"] == []
    # A regular user may edit a shared record but not delete another user's record.
    assert sandbox.request("PATCH", f"/api/v2/persons/{shared['id']}", token=token_three,
                           json={"name": "Shared 2"}).status_code == 200
    assert sandbox.request("DELETE", f"/api/v2/persons/{shared['id']}", token=token_three).status_code == 403
    assert sandbox.request("DELETE", f"/api/v2/persons/{shared['id']}", token=token_two).status_code == 200
    me = sandbox.get("/api/v1/users/me", token=token_three).json()["data"]
    assert me["email"] == email_three and me["access"][0]["admin"] is False


def test_v2_cursor_pagination_walks_every_record_once(pipedrive_sandbox):
    sandbox = pipedrive_sandbox
    for i in range(12):
        sandbox.request("POST", "/api/v2/organizations", json={"name": f"Org {i}"})
    expected = [o["id"] for o in sandbox.get("/api/v2/organizations", params={"limit": 500}).json()["data"]]
    seen, cursor, pages = [], None, 0
    while True:
        params = {"limit": 5, **({"cursor": cursor} if cursor else {})}
        body = sandbox.get("/api/v2/organizations", params=params).json()
        seen += [o["id"] for o in body["data"]]
        cursor = body["additional_data"]["next_cursor"]
        pages += 1
        if cursor is None:
            break
    assert seen == expected and pages == -(-len(expected) // 5)
    assert sandbox.get("/api/v2/organizations", params={"limit": 501}).status_code == 400
    assert sandbox.get("/api/v2/organizations", params={"cursor": "garbage!"}).status_code == 400


def test_v2_list_filters(pipedrive_sandbox):
    sandbox = pipedrive_sandbox
    deals = sandbox.get("/api/v2/deals").json()["data"]
    ids = [deals[0]["id"], deals[2]["id"]]
    filtered = sandbox.get("/api/v2/deals", params={"ids": ",".join(map(str, ids))}).json()["data"]
    assert [d["id"] for d in filtered] == ids
    won = sandbox.get("/api/v2/deals", params={"status": "won"}).json()["data"]
    assert won and {d["status"] for d in won} == {"won"}
    later = sandbox.request("PATCH", f"/api/v2/deals/{ids[0]}", json={"title": "Touched"}).json()["data"]
    since = sandbox.get("/api/v2/deals", params={"updated_since": later["update_time"]}).json()["data"]
    assert ids[0] in [d["id"] for d in since]
    newest_first = sandbox.get("/api/v2/deals", params={"sort_by": "id", "sort_direction": "desc"}).json()["data"]
    assert [d["id"] for d in newest_first] == sorted((d["id"] for d in deals), reverse=True)
    owner = deals[0]["owner_id"]
    assert {d["owner_id"] for d in sandbox.get("/api/v2/deals", params={"owner_id": owner}).json()["data"]} == {owner}


def test_v1_pagination(pipedrive_sandbox):
    sandbox = pipedrive_sandbox
    person = sandbox.get("/api/v2/persons").json()["data"][0]
    for i in range(7):
        sandbox.request("POST", "/api/v1/notes", json={"content": f"n{i}", "person_id": person["id"]})
    first = sandbox.get("/api/v1/notes", params={"start": 0, "limit": 5}).json()
    assert first["additional_data"]["pagination"] == {"start": 0, "limit": 5, "more_items_in_collection": True,
                                                      "next_start": 5}
    second = sandbox.get("/api/v1/notes", params={"start": 5, "limit": 5}).json()
    assert second["additional_data"]["pagination"]["more_items_in_collection"] is False
    assert len(first["data"]) + len(second["data"]) == 7
    assert sandbox.get("/api/v1/notes", params={"limit": 501}).status_code == 400
