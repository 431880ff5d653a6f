"""Auth, lists, pagination and single records over real HTTP."""

from __future__ import annotations

import requests
from practicehub_sandbox.resources import RESOURCE_FIELDS

from .helpers import APP_DETAILS, all_rows, api_get


def test_both_auth_headers_are_required(practicehub_sandbox):
    url = f"{practicehub_sandbox.base_url}/patients"
    key = practicehub_sandbox.api_keys[0]
    cases = {
        "no headers": {},
        "key only": {"x-practicehub-key": key},
        "details only": {"x-app-details": APP_DETAILS},
        "bad key": {"x-practicehub-key": "wrong", "x-app-details": APP_DETAILS},
        "details without email": {"x-practicehub-key": key, "x-app-details": "pytest"},
    }
    for name, headers in cases.items():
        response = requests.get(url, headers=headers, timeout=10)
        assert response.status_code == 401, name
        assert response.json()["message"], name
    assert api_get(practicehub_sandbox, "patients").status_code == 200


def test_app_name_setting_checks_x_app_details(practicehub_sandbox_factory):
    sandbox = practicehub_sandbox_factory(app_name="migrator")
    headers = {"x-practicehub-key": sandbox.api_keys[0]}
    wrong = requests.get(f"{sandbox.base_url}/users", headers={**headers, "x-app-details": APP_DETAILS}, timeout=10)
    right = requests.get(
        f"{sandbox.base_url}/users", headers={**headers, "x-app-details": "migrator=ops@example.com"}, timeout=10
    )
    assert (wrong.status_code, right.status_code) == (401, 200)


def test_every_resource_is_listed_with_its_fields(practicehub_sandbox):
    served = practicehub_sandbox.dataset
    for resource, fields in RESOURCE_FIELDS.items():
        body = api_get(practicehub_sandbox, resource).json()
        assert body["total_entries"] == len(served[resource]) > 0, resource
        assert list(body["data"][0]) == list(fields), resource


def test_unknown_resource_is_404(practicehub_sandbox):
    assert api_get(practicehub_sandbox, "nonsense").status_code == 404


def test_pages_cover_every_record_once_with_absolute_links(practicehub_sandbox):
    total = len(practicehub_sandbox.dataset["appointments"])
    first = api_get(practicehub_sandbox, "appointments", page_size=7).json()
    assert first["total_entries"] == total
    assert first["links"]["previous"] is None
    assert first["links"]["self"].startswith(practicehub_sandbox.base_url + "/appointments?")
    assert "page=2" in first["links"]["next"]
    rows = all_rows(practicehub_sandbox, "appointments", page_size=7)
    ids = [r["id"] for r in rows]
    assert len(ids) == len(set(ids)) == total


def test_last_page_has_no_next_link(practicehub_sandbox):
    total = len(practicehub_sandbox.dataset["patients"])
    last_page = -(-total // 6)
    body = api_get(practicehub_sandbox, "patients", page_size=6, page=last_page).json()
    assert body["links"]["next"] is None
    assert body["links"]["previous"].endswith(f"page={last_page - 1}&page_size=6")
    assert len(body["data"]) == total - 6 * (last_page - 1)
    beyond = api_get(practicehub_sandbox, "patients", page_size=6, page=last_page + 1).json()
    assert beyond["data"] == [] and beyond["links"]["next"] is None


def test_page_size_is_capped_at_100(practicehub_sandbox_factory):
    sandbox = practicehub_sandbox_factory(dataset="demo")
    body = api_get(sandbox, "appointments", page_size=500).json()
    assert body["total_entries"] > 100
    assert len(body["data"]) == 100
    assert "page_size=100" in body["links"]["next"]
    default = api_get(sandbox, "appointments").json()
    assert len(default["data"]) == 100


def test_order_is_stable_but_not_by_updated_or_id(practicehub_sandbox):
    rows = all_rows(practicehub_sandbox, "appointments")
    again = all_rows(practicehub_sandbox, "appointments")
    assert [r["id"] for r in rows] == [r["id"] for r in again]
    assert [r["id"] for r in rows] != sorted(r["id"] for r in rows)
    assert [r["updated"] for r in rows] != sorted(r["updated"] for r in rows)


def test_single_record_and_missing_record(practicehub_sandbox):
    patient = practicehub_sandbox.dataset["patients"][0]
    response = api_get(practicehub_sandbox, f"patients/{patient['id']}")
    assert response.status_code == 200
    assert response.json() == patient
    assert api_get(practicehub_sandbox, "patients/1").status_code == 404


def test_records_follow_the_api_conventions(practicehub_sandbox):
    payments = api_get(practicehub_sandbox, "payments").json()["data"]
    assert all(isinstance(p["patient_id"], str) and p["patient_id"].isdigit() for p in payments)
    assert all(isinstance(p["amount"], str) and "." in p["amount"] for p in payments)
    practitioners = api_get(practicehub_sandbox, "practitioners").json()["data"]
    assert {p["active"] for p in practitioners} <= {0, 1}
    for resource in RESOURCE_FIELDS:
        for row in api_get(practicehub_sandbox, resource).json()["data"]:
            assert len(row["created"]) == len(row["updated"]) == 19, resource
            assert row["updated"] >= row["created"], resource


def test_unknown_paths_and_methods_answer_json(practicehub_sandbox):
    missing = requests.get(f"{practicehub_sandbox.base_url}/patients/not-a-number", timeout=10)
    assert missing.status_code == 404 and missing.json() == {"message": "Not Found"}
    wrong_method = requests.post(f"{practicehub_sandbox.base_url}/patients", timeout=10)
    assert wrong_method.status_code == 405 and wrong_method.json()["message"]
