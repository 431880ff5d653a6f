"""Snapshot, persistence across restarts, behind-the-back edits, and the CLI contract."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import requests


def test_snapshot_is_deterministic_and_follows_writes(pipedrive_sandbox):
    sandbox = pipedrive_sandbox
    before = sandbox.snapshot()
    assert sandbox.snapshot() == before
    assert {"persons", "organizations", "deals", "activities", "notes", "files", "pipelines", "stages", "fields",
            "users"} <= set(before)
    assert [p["id"] for p in before["persons"]] == sorted(p["id"] for p in before["persons"])
    created = sandbox.request("POST", "/api/v2/organizations", json={"name": "New Org"}).json()["data"]
    after = sandbox.snapshot()
    assert after != before and created["id"] in [o["id"] for o in after["organizations"]]
    sandbox.request("DELETE", f"/api/v2/organizations/{created['id']}")
    assert sandbox.snapshot() == {**before, "organizations": before["organizations"]}


def test_state_survives_restart_with_same_db(pipedrive_sandbox_factory):
    sandbox = pipedrive_sandbox_factory(fixture="in-use")
    field = sandbox.request("POST", "/api/v2/personFields", json={"field_name": "Kept", "field_type": "varchar"})
    person = sandbox.request("POST", "/api/v2/persons", json={
        "name": "Survivor", "custom_fields": {field.json()["data"]["field_code"]: "yes"}}).json()["data"]
    before = sandbox.snapshot()
    sandbox.restart()
    assert sandbox.snapshot() == before
    again = sandbox.get(f"/api/v2/persons/{person['id']}").json()["data"]
    assert again["custom_fields"][field.json()["data"]["field_code"]] == "yes"
    token = next(iter(sandbox.user_tokens.values()))
    assert sandbox.get("/api/v1/users/me", token=token).status_code == 200


def test_change_record_behind_the_back(pipedrive_sandbox):
    sandbox = pipedrive_sandbox
    person = sandbox.get("/api/v2/persons").json()["data"][0]
    sandbox.change_record("persons", person["id"], name="Edited Elsewhere")
    assert sandbox.get(f"/api/v2/persons/{person['id']}").json()["data"]["name"] == "Edited Elsewhere"


def test_cli_ready_line_loopback_only_and_clean_stop(pipedrive_sandbox_factory, tmp_path):
    sandbox = pipedrive_sandbox_factory(subprocess=True, fixture="in-use")
    assert sandbox.base_url.startswith("http://127.0.0.1:")
    assert sandbox.get("/api/v1/users/me").json()["data"]["email"] == "admin@sandbox-clinic.test"
    token = next(iter(sandbox.user_tokens.values()))
    assert sandbox.get("/api/v1/users/me", token=token).json()["data"]["is_you"] is True
    # Bound to 127.0.0.1 only: the machine's other addresses refuse the port.
    other = _non_loopback_address()
    if other:
        with socket.socket() as probe:
            probe.settimeout(1)
            assert probe.connect_ex((other, sandbox.port)) != 0
    log = sandbox.requests_log()
    assert all(sandbox.api_token not in str(entry) for entry in log)
    sandbox.stop()
    try:
        requests.get(f"{sandbox.base_url}/_sandbox/health", timeout=2)
        raise AssertionError("server still answering after stop")
    except requests.ConnectionError:
        pass


def test_cli_refuses_bad_options(tmp_path):
    script = Path(sys.executable).with_name("pipedrive-sandbox")
    result = subprocess.run([str(script), "--api-token", "t", "--plan", "gold"], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 2 and "invalid choice" in result.stderr
    result = subprocess.run([str(script), "--api-token", "t", "--fixture", str(tmp_path / "missing.json"),
                             "--db", ":memory:"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and "missing.json" in result.stderr


def test_api_token_never_logged_with_query_auth(pipedrive_sandbox_factory):
    sandbox = pipedrive_sandbox_factory(subprocess=True)
    response = requests.get(f"{sandbox.api_v2}/persons", params={"api_token": sandbox.api_token}, timeout=10)
    assert response.status_code == 200
    assert sandbox.get("/api/v2/persons/999").status_code == 404
    log = sandbox.requests_log()
    assert [entry["path"] for entry in log] == ["/api/v2/persons", "/api/v2/persons/999"]
    assert len({entry["token"] for entry in log}) == 1 and sandbox.api_token not in str(log)
    sandbox.stop()
    assert "listening on" in sandbox.output and sandbox.api_token not in sandbox.output


def _non_loopback_address() -> str | None:
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            udp.connect(("192.0.2.1", 9))  # no packet is sent; this only picks the outgoing interface
            address = udp.getsockname()[0]
    except OSError:
        return None
    return None if address.startswith("127.") else address


def test_users_file_and_fixture_file(pipedrive_sandbox_factory, tmp_path):
    import json

    users = tmp_path / "users.json"
    users.write_text(json.dumps([{"name": "Dr Admin", "email": "boss@clinic.test", "role": "admin"},
                                 {"name": "Dr Who", "email": "who@clinic.test"}]))
    fixture = tmp_path / "fixture.json"
    fixture.write_text(json.dumps({
        "pipelines": [{"name": "Care", "stages": ["Booked", "Seen"]}],
        "fields": {"person": [{"field_name": "Source", "field_type": "enum", "options": ["Web", "Phone"]}]},
        "organizations": [{"name": "Loaded Org"}],
        "persons": [{"name": "Loaded Person", "emails": [{"value": "lp@example.test", "primary": True}]}],
    }))
    sandbox = pipedrive_sandbox_factory(users=str(users), fixture=str(fixture), user_tokens={
        "who@clinic.test": "tok-who", "new@clinic.test": "tok-new"}, subprocess=True)
    emails = [u["email"] for u in sandbox.get("/api/v1/users").json()["data"]]
    assert emails == ["boss@clinic.test", "who@clinic.test", "new@clinic.test"]
    assert sandbox.get("/api/v1/users/me", token="tok-new").json()["data"]["access"][0]["admin"] is False
    assert sandbox.get("/api/v1/users/me").json()["data"]["email"] == "boss@clinic.test"
    snapshot = sandbox.snapshot()
    assert [p["name"] for p in snapshot["pipelines"]] == ["Pipeline", "Care"]
    assert [o["name"] for o in snapshot["organizations"]] == ["Loaded Org"]
    assert [p["name"] for p in snapshot["persons"]] == ["Loaded Person"]
    source = next(f for f in snapshot["fields"]["person"] if f["field_name"] == "Source")
    assert [o["label"] for o in source["options"]] == ["Web", "Phone"]
