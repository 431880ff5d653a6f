"""`target-pipedrive snapshot-account` (GETs only, tokens counted) and `pipedrive-sandbox --fixture <snapshot>`."""

from __future__ import annotations

import json
import stat

CUSTOM_IN_USE = {"person": ["Source", "Lead channel"], "deal": ["Campaign"], "organization": ["Segment"]}


def _snapshot(harness, path, *extra):
    result = harness.command("snapshot-account", "--out", str(path), *extra)
    assert result.returncode == 0, result.stderr
    return json.loads(path.read_text()), result.stderr


def _shape(data: dict) -> dict:
    """Everything but when and from where it was taken, and what taking it cost."""
    return {key: value for key, value in data.items() if key != "snapshot"}


def test_snapshot_reads_only_and_says_what_it_cost(harness, sandbox, tmp_path):
    mark = harness.log_mark()
    before = sandbox.counters()["tokens_used"]
    data, printed = _snapshot(harness, tmp_path / "account.json")
    calls = sandbox.requests_log(mark)
    assert calls and {entry["method"] for entry in calls} == {"GET"}
    tokens = sandbox.counters()["tokens_used"] - before
    assert data["snapshot"]["api_calls"] == len(calls) and data["snapshot"]["api_tokens"] == tokens
    assert f"{len(calls)} GET calls, {tokens} tokens" in printed
    assert stat.S_IMODE((tmp_path / "account.json").stat().st_mode) == 0o600
    assert sandbox.api_token not in (tmp_path / "account.json").read_text() + printed

    assert [user["email"] for user in data["users"]][0] == "admin@sandbox-clinic.test"
    assert data["snapshot"]["token_user_id"] == data["users"][0]["id"]
    custom = {family: [f["field_name"] for f in fields if f["is_custom_field"]]
              for family, fields in data["fields"].items() if any(f["is_custom_field"] for f in fields)}
    assert custom == CUSTOM_IN_USE
    channel = next(f for f in data["fields"]["person"] if f["field_name"] == "Lead channel")
    assert [option["label"] for option in channel["options"]] == ["Website", "Referral", "Event"]
    assert [(p["name"], [s["name"] for s in p["stages"]]) for p in data["pipelines"]] == [
        ("Pipeline", ["Lead In", "Contact Made", "Demo Scheduled", "Proposal Made", "Negotiations Started"])]
    # match_existing (default persons and organizations): the records the load would adopt
    assert len(data["persons"]) == 8 and len(data["organizations"]) == 4
    assert data["snapshot"]["records_included"] == ["organizations", "persons"]


def test_snapshot_without_records(harness, tmp_path):
    data, printed = _snapshot(harness, tmp_path / "account.json", "--no-with-records")
    assert "persons" not in data and "organizations" not in data
    assert "no persons or organizations" in printed


def test_a_twin_started_from_the_snapshot_is_the_same_account(harness, pipedrive_sandbox_factory, tmp_path):
    original, _ = _snapshot(harness, tmp_path / "account.json")
    twin = pipedrive_sandbox_factory(plan="premium", fixture=str(tmp_path / "account.json"), subprocess=True)
    (tmp_path / "twin").mkdir()
    twin_harness = type(harness)(twin, tmp_path / "twin")
    copy, _ = _snapshot(twin_harness, tmp_path / "twin.json")
    assert _shape(copy) == _shape(original)  # same ids, field codes, option ids, stage order, records
    # the twin's token is the snapshot's token user, and new ids never collide with the copied ones
    assert twin.get("/api/v1/users/me").json()["data"]["id"] == original["snapshot"]["token_user_id"]
    created = twin.request("POST", "/api/v2/persons", json={"name": "New"}).json()["data"]
    assert created["id"] > max(person["id"] for person in original["persons"])
    field = twin.request("POST", "/api/v2/personFields",
                         json={"field_name": "Kind", "field_type": "enum", "options": [{"label": "A"}]}).json()
    used = {o["id"] for fields in original["fields"].values() for f in fields for o in f.get("options") or []}
    assert field["data"]["options"][0]["id"] not in used


def test_a_twin_refuses_a_snapshot_without_its_token_user(tmp_path, pipedrive_sandbox_factory, harness):
    original, _ = _snapshot(harness, tmp_path / "account.json")
    original["snapshot"]["token_user_id"] = 999
    (tmp_path / "broken.json").write_text(json.dumps(original))
    try:
        pipedrive_sandbox_factory(fixture=str(tmp_path / "broken.json"), subprocess=True)
    except RuntimeError as exc:
        assert "token user 999 is not among its users" in str(exc) and "Traceback" not in str(exc)
    else:
        raise AssertionError("the twin started without the snapshot's token user")
