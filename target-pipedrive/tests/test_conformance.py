"""Every request the target sends is one the official spec allows, and rollback is exact through the public API.

The target's whole traffic — full load, a delta in which values become empty, verify, rollback — reaches
the sandbox through the openapi-core layer of `test-support/testkit/openapi_oracle.py` (request and response validation,
unknown body keys forbidden). The account holds, before the migration, a person and an organization for
each of three cases the load adopts: fields empty, set to what the load writes, and different. The
account read through Pipedrive's v2/v1 list endpoints before the migration equals the account after
rollback: entities, field definitions and options, pipelines and stages, adopted records included.
"""

from __future__ import annotations

import copy
import json

from testkit.pipedrive_fixtures import account_changes

# Pipedrive sets these itself on every write; a restore cannot set them back.
VOLATILE = {"update_time"}


class LoseFirstAnswer:
    """WSGI layer: the first `method path` call is served, then its answer is cut off (the write landed)."""

    def __init__(self, app, method: str, path: str) -> None:
        self.app, self.method, self.path, self.fired = app, method, path, False

    def __call__(self, environ, start_response):
        if self.fired or environ["REQUEST_METHOD"] != self.method or environ.get("PATH_INFO") != self.path:
            return self.app(environ, start_response)
        self.fired = True
        list(self.app(environ, lambda status, headers, exc_info=None: None))  # the write happens
        start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", "512")])
        return [b"{"]  # fewer bytes than promised: the client sees the connection drop mid-answer


def _adoptable_account(sandbox) -> dict:
    """Persons and organizations the load will adopt: one each with fields empty, set as the load sets
    them, and different. Returns their ids by case."""
    def create(path: str, body: dict) -> int:
        response = sandbox.request("POST", path, json=body)
        assert response.status_code == 200, response.text
        return response.json()["data"]["id"]

    other_org = create("/api/v2/organizations", {"name": "Somewhere Else Ltd"})
    orgs = {
        "empty": create("/api/v2/organizations", {"name": "Clinic 1"}),
        "different": create("/api/v2/organizations", {
            "name": "Clinic 2", "website": "https://old.example", "address": {"value": "9 Old Rd", "locality": "Oldtown"}}),
        "set": create("/api/v2/organizations", {
            "name": "Clinic 3", "website": "https://clinic3.example",
            "address": {"value": "3 Main St, Springfield", "locality": "Springfield", "country": "US"}}),
    }
    persons = {
        "empty": create("/api/v2/persons", {
            "name": "patient 1", "emails": [{"value": "patient1@mail.example", "primary": True, "label": "home"}]}),
        "set": create("/api/v2/persons", {
            "name": "Patient 2", "org_id": orgs["empty"],  # patient 2's clinic is "Clinic 1"
            "emails": [{"value": "patient2@mail.example", "primary": True, "label": "home"}],
            "phones": [{"value": "+15550000002", "primary": True, "label": "mobile"}],
            "postal_address": {"value": "2 Main St, Springfield", "locality": "Springfield", "country": "US"}}),
        "different": create("/api/v2/persons", {
            "name": "3 Patient", "org_id": other_org,  # the same person as "Patient 3": word order aside
            "emails": [{"value": "patient3@mail.example", "primary": True, "label": "work"}],
            "phones": [{"value": "+44 20 7946 0000", "primary": True, "label": "work"}],
            "postal_address": {"value": "3 Far Away Rd, Leeds", "locality": "Leeds", "country": "GB"}}),
    }
    return {"orgs": orgs, "persons": persons}


def _practice(harness) -> dict:
    data = harness.practice()
    for i, person in enumerate(data["persons"], start=1):
        # The contract's address has `street`, which Pipedrive's person address does not.
        person["postal_address"] = {"value": f"{i} Main St, Springfield", "street": f"{i} Main St",
                                    "locality": "Springfield", "postal_code": None, "country": "US"}
    data["organizations"][0]["address"]["street"] = "1 Main St"
    data["persons"][0]["phones"] = []  # the adopted person with empty fields gets phones only in the delta
    data["persons"][0]["custom_fields"]["tags"] = None
    third = copy.deepcopy(data["organizations"][1])
    third.update(source_id="businesses:3", name="Clinic 3", website="https://clinic3.example",
                 address={"value": "3 Main St, Springfield", "street": "3 Main St", "locality": "Springfield",
                          "country": "US"})
    third["custom_fields"].update(practicehub_id="businesses:3", clinic_code="C3")
    data["organizations"].append(third)
    return data


def _delta(data: dict) -> dict:
    """Values that become empty: phones, an address, a parent organization, custom fields, a lost reason,
    an expected close date, an activity's note; and a changed note."""
    delta = copy.deepcopy(data)
    persons = {p["source_id"]: p for p in delta["persons"]}
    for source_id in ("patients:103", "patients:104"):  # an adopted person (different before) and a new one
        persons[source_id].update(phones=[], postal_address=None)
        persons[source_id]["custom_fields"].update(balance=None, tags=None)
    persons["patients:104"]["org_source_id"] = None  # an id has no empty value: reported, left as it is
    persons["patients:101"]["phones"] = [{"value": "+15550000001", "primary": True, "label": "mobile"}]
    persons["patients:101"]["custom_fields"]["tags"] = ["Recall"]
    delta["organizations"][1]["website"] = None
    deals = {d["source_id"]: d for d in delta["deals"]}
    deals["treatment_plans:2"].update(status="open", lost_reason=None)
    deals["treatment_plans:3"]["expected_close_date"] = None
    delta["activities"][0]["note"] = None
    delta["notes"][0]["content"] = "<p>Treatment note 1, corrected</p>"
    delta["skipped"] = []
    return delta


def test_the_targets_traffic_conforms_and_rollback_is_exact_through_the_public_api(harness, conformance):
    sandbox = harness.sandbox
    watch = conformance.watch(sandbox)
    adopted = _adoptable_account(sandbox)
    before = sandbox.public_account()

    data = _practice(harness)
    full = harness.run(data)
    assert full.returncode == 0, full.stderr[-3000:]
    assert full.summary["streams"]["persons"]["updated"] == 3 and full.summary["streams"]["organizations"]["updated"] == 3
    held = [w for w in full.summary["warnings"] if w["property"] == "org_id" and w["stream"] == "persons"]
    assert held and held[0]["count"] == 1 and "rollback could not undo it" in held[0]["detail"]
    empty_person = sandbox.get(f"/api/v2/persons/{adopted['persons']['empty']}").json()["data"]
    assert empty_person["org_id"] is None  # it had none, and the API could never take one away again
    assert empty_person["postal_address"] == {"value": "1 Main St, Springfield", "locality": "Springfield",
                                              "country": "US"}
    assert (verify := harness.command("verify")).returncode == 0, verify.stderr[-2000:]

    delta = harness.run(_delta(data), run_id="run-2")
    assert delta.returncode == 0, delta.stderr[-3000:]
    assert delta.summary["totals"]["created"] == 0 and delta.summary["totals"]["skipped"] == 0
    not_cleared = {(w["stream"], w["property"]) for w in delta.summary["warnings"] if w["reason"] == "not_cleared"}
    assert not_cleared == {("persons", "org_id"), ("deals", "expected_close_date")}
    # A key the load had not written to an adopted record before: its value before the migration is read
    # and put in the manifest first, so rollback restores it too.
    manifest = [json.loads(line) for line in (harness.state_dir / "manifest.jsonl").read_text().splitlines()]
    priors = [e["prior"] for e in manifest if e["op"] == "update" and e["id"] == adopted["persons"]["empty"]]
    assert len(priors) == 2 and priors[1]["phones"] == [] and list(priors[1]["custom_fields"].values()) == [None]
    different = sandbox.get(f"/api/v2/persons/{adopted['persons']['different']}").json()["data"]
    assert different["phones"] == [] and different["postal_address"] is None
    verify = harness.command("verify")
    assert verify.returncode == 0, verify.stderr[-2000:]
    summary = json.loads((harness.state_dir / "verify_summary.json").read_text())
    assert summary["mismatches"] == 0 and summary["not_kept_fields"] == []

    # A file upload whose answer is lost: the target finds the landed file under its parent, 100 a page.
    sandbox._server.app.wsgi_app = LoseFirstAnswer(sandbox._server.app.wsgi_app, "POST", "/api/v1/files")  # noqa: SLF001
    extra = copy.deepcopy(data["files"][0])
    extra.update(source_id="attachments:9", person_source_id="patients:105")
    files = harness.run({"files": [extra]}, run_id="run-3")
    assert files.returncode == 0, files.stderr[-3000:]
    assert files.summary["streams"]["files"]["created"] == 1
    assert "GET /api/v1/persons/{id}/files" in {_operation(op) for op in watch.operations}

    rollback = harness.command("rollback", "--all")
    assert rollback.returncode == 0, rollback.stderr[-2000:]
    after = sandbox.public_account()
    assert account_changes(before, after, VOLATILE) == []

    assert watch.of_kind("request") == [], json.dumps(watch.of_kind("request")[:5], indent=1)
    assert watch.of_kind("response") == [], json.dumps(watch.of_kind("response")[:5], indent=1)
    operations = {_operation(op) for op in watch.operations}
    assert {"POST /api/v2/persons", "PATCH /api/v2/persons/{id}", "PATCH /api/v2/organizations/{id}",
            "PATCH /api/v2/deals/{id}", "PATCH /api/v2/activities/{id}", "PUT /api/v1/notes/{id}",
            "POST /api/v1/files", "GET /api/v1/files", "DELETE /api/v2/persons/{id}",
            "DELETE /api/v1/files/{id}"} <= operations, sorted(operations)
    assert watch.calls > 100


def _operation(call: str) -> str:
    method, path = call.split(" ", 1)
    parts = ["{id}" if part.isdigit() else part for part in path.split("/")]
    return f"{method} {'/'.join(parts)}"
