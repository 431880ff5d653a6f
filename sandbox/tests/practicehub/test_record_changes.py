"""Sandbox-only record changes (for delta pickup) and the stats endpoints."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from practicehub_sandbox.data import generate
from practicehub_sandbox.server import make_app
from practicehub_sandbox.settings import SandboxSettings

from .helpers import all_rows, api_get


def test_patch_bumps_updated_and_is_picked_up_by_a_gte_filter(practicehub_sandbox):
    appointments = practicehub_sandbox.dataset["appointments"]
    bookmark = max(a["updated"] for a in appointments)
    assert all_rows(practicehub_sandbox, "appointments", updated=f"gte:{bookmark}") != []
    target = appointments[3]
    changed = practicehub_sandbox.patch_record("appointments", target["id"], {"status": "cancelled"})
    assert changed["status"] == "cancelled"
    assert changed["updated"] > bookmark
    picked = all_rows(practicehub_sandbox, "appointments", updated=f"gt:{bookmark}")
    assert [r["id"] for r in picked] == [target["id"]]
    assert picked[0]["status"] == "cancelled"


def test_created_records_get_an_id_and_timestamps_in_the_account_zone(practicehub_sandbox_factory):
    sandbox = practicehub_sandbox_factory(timezone="Australia/Sydney")
    before = datetime.now(ZoneInfo("Australia/Sydney")).replace(tzinfo=None, microsecond=0)
    created = sandbox.create_record("patients", {"first_name": "Zoë", "last_name": "Ng", "email": "zoe@example.com"})
    assert created["id"] > max(p["id"] for p in sandbox.dataset["patients"] if p["id"] != created["id"])
    stamp = datetime.strptime(created["created"], "%Y-%m-%d %H:%M:%S")
    assert before <= stamp <= before + timedelta(seconds=5)
    assert created["updated"] == created["created"]
    served = api_get(sandbox, f"patients/{created['id']}").json()
    assert served["first_name"] == "Zoë" and served["dob"] is None
    assert api_get(sandbox, "patients").json()["total_entries"] == 21


def test_delete_removes_the_record(practicehub_sandbox):
    patient = practicehub_sandbox.dataset["patients"][0]
    practicehub_sandbox.delete_record("patients", patient["id"])
    assert api_get(practicehub_sandbox, f"patients/{patient['id']}").status_code == 404
    assert patient["id"] not in {p["id"] for p in all_rows(practicehub_sandbox, "patients")}


def test_stats_count_requests_and_reset(practicehub_sandbox):
    api_get(practicehub_sandbox, "patients")
    api_get(practicehub_sandbox, "users")
    api_get(practicehub_sandbox, "users", key="wrong-key")
    stats = practicehub_sandbox.stats()
    assert stats["requests"] == 3
    assert stats["status_counts"] == {"200": 2, "401": 1}
    assert stats["by_resource"] == {"patients": 1, "users": 2}
    assert stats["first_request_at"] <= stats["last_request_at"]
    assert "test-key" not in str(stats) and "wrong-key" not in str(stats)
    practicehub_sandbox.reset_stats()
    assert practicehub_sandbox.stats()["requests"] == 0


def test_controls_answer_loopback_clients_only():
    app = make_app(generate("tiny"), SandboxSettings(api_keys=("k",)))
    remote = app.test_client().get("/_sandbox/stats", environ_base={"REMOTE_ADDR": "10.1.2.3"})
    local = app.test_client().get("/_sandbox/stats", environ_base={"REMOTE_ADDR": "127.0.0.1"})
    assert (remote.status_code, local.status_code) == (403, 200)
