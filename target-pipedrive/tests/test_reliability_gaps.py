"""Reliability-suite gaps (issue 5): config exit codes, rejected token, enum fields, children, rollback."""

from __future__ import annotations

import contextlib
import copy
import io
import json
import time

from target_pipedrive.target import run_command
from testkit.target_contract import SCHEMAS, messages, write_singer
from testkit.target_run import TargetHarness, live


def test_invalid_config_exits_2_with_the_message(harness):
    result = harness.run(harness.practice(n_persons=1), request_timeout="soon")
    assert result.returncode == 2
    assert "config validation failed" in result.stderr.lower()
    assert not harness.writes()


def test_fractional_request_timeout_is_valid(harness):
    result = harness.run(harness.practice(n_persons=1), request_timeout=1.5)
    assert result.returncode == 0, result.stderr[-2000:]


def test_rejected_token_names_the_setting_without_traceback(harness):
    mark = harness.log_mark()
    result = harness.run(harness.practice(n_persons=1), in_process=False, api_token="pd-wrong-token")
    assert result.returncode == 2
    assert "api_token" in result.stderr and "base_url" in result.stderr
    assert "Traceback" not in result.stderr
    assert "pd-wrong-token" not in result.stderr
    assert not harness.writes(mark)


def _skips(harness) -> list[dict]:
    path = harness.state_dir / "skipped.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def test_children_of_a_replaced_sink_are_not_skipped(harness):
    """A changed SCHEMA mid-stream retires the deals sink: its deals must land before children are judged."""
    data = harness.practice()
    msgs = messages(data)
    deals = [i for i, m in enumerate(msgs) if m.get("type") == "RECORD" and m["stream"] == "deals"]
    changed = copy.deepcopy(SCHEMAS["deals"])
    changed["schema"]["description"] = "deals, second schema version"
    msgs.insert(deals[2], changed)
    before = sum(1 for n in live(harness.sandbox.snapshot(), "notes") if n.get("deal_id"))
    result = harness.run(write_singer(harness.workdir / "replaced.singer", msgs))
    assert result.returncode == 0, result.stderr[-2000:]
    assert [s for s in _skips(harness) if s["reason"] == "missing_parent"] == []
    notes_on_deals = [n for n in live(harness.sandbox.snapshot(), "notes") if n.get("deal_id")]
    assert len(notes_on_deals) == before + 1


def test_enum_field_without_options_is_created_as_varchar(harness):
    """Pipedrive refuses an enum without options: the field becomes varchar and its values land as text."""
    data = harness.practice(n_persons=2)
    msgs = messages(data)
    persons = next(m for m in msgs if m.get("type") == "SCHEMA" and m["stream"] == "persons")
    custom = persons["schema"]["properties"]["custom_fields"]["properties"]
    custom["referral"] = {"type": ["string", "null"],
                          "x-pipedrive-field": {"name": "Referral source", "field_type": "enum", "options": []}}
    for message in msgs:
        if message.get("type") == "RECORD" and message["stream"] == "persons":
            message["record"]["custom_fields"]["referral"] = "Web"
    result = harness.run(write_singer(harness.workdir / "enum.singer", msgs))
    assert result.returncode == 0, result.stderr[-2000:]
    rows = json.loads((harness.state_dir / "field_map.json").read_text())
    referral = next(r for r in rows if r["logical_name"] == "referral")
    assert referral["field_type"] == "varchar" and referral["status"] == "created"
    landed = [p for p in live(harness.sandbox.snapshot(), "persons")
              if (p.get("custom_fields") or {}).get(referral["key"]) == "Web"]
    assert len(landed) == 2


def test_rollback_of_adopted_records_skips_nulls_pipedrive_refuses(harness):
    """Adopted person without org and adopted org without address: restoring them must not PATCH nulls."""
    before = harness.sandbox.snapshot()
    existing = next(p for p in live(before, "persons") if p.get("emails"))
    harness.sandbox.change_record("persons", existing["id"], org_id=None)
    data = harness.practice()
    data["persons"][3]["emails"] = [{"value": existing["emails"][0]["value"], "primary": True, "label": "work"}]
    # the same person (adoption needs the same identity), written as PracticeHub writes them
    data["persons"][3]["name"] = " ".join(reversed(existing["name"].split())).upper()
    old_org = next((o for o in live(before, "organizations") if not o.get("address")), None)
    if old_org is not None:
        data["organizations"][0]["name"] = old_org["name"]
    result = harness.run(data)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.summary["streams"]["persons"]["updated"] == 1

    mark = harness.log_mark()
    done = harness.command("rollback", "--run", "run-1")
    assert done.returncode == 0, done.stderr[-2000:]
    assert "Traceback" not in done.stderr and "could not restore" not in done.stderr
    patches = [e for e in harness.writes(mark) if e["method"] == "PATCH"]
    assert patches and all(200 <= e["status"] < 300 for e in patches), patches
    restored = next(p for p in live(harness.sandbox.snapshot(), "persons") if p["id"] == existing["id"])
    assert restored["name"] == existing["name"]

    again = harness.run(data)  # migrating again after the rollback re-applies the update, it is not "unchanged"
    assert again.returncode == 0, again.stderr[-2000:]
    assert again.summary["streams"]["persons"]["updated"] == 1
    reapplied = next(p for p in live(harness.sandbox.snapshot(), "persons") if p["id"] == existing["id"])
    assert reapplied["name"] == data["persons"][3]["name"] != existing["name"]


def test_stalled_and_dropped_creates_land_exactly_once(pipedrive_sandbox_factory, tmp_path):
    """Answers lost to stalls (the server writes after our read timeout) and drops: no duplicate, no abort."""
    sandbox = pipedrive_sandbox_factory(plan="premium", seats=3, fixture="empty", fault_drop=0.03,
                                        fault_stall=0.2, stall_seconds=1.2, seed=11)
    harness = TargetHarness(sandbox, tmp_path, request_timeout=0.8)
    data = harness.practice(n_persons=12)
    result = harness.run(data)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "answer lost" in result.stderr  # the faults did hit creates
    time.sleep(1.5)  # let any stalled request finish writing before counting
    snapshot = sandbox.snapshot()
    for stream in ("organizations", "persons", "deals", "notes", "activities", "files"):
        assert len(live(snapshot, stream)) == len(data[stream]), stream


def test_fractional_request_timeout_from_the_environment(harness, monkeypatch):
    """`--config ENV` (Meltano's plugin commands): a number setting arrives as a string and is parsed."""
    assert harness.run(harness.practice(n_persons=1)).returncode == 0
    for key, value in {**harness.config, "request_timeout": 1.5}.items():
        monkeypatch.setenv(f"TARGET_PIPEDRIVE_{key.upper()}", str(value))
    stderr = io.StringIO()
    with contextlib.redirect_stderr(stderr):
        code = run_command(["verify", "--config", "ENV"])
    assert code == 0, stderr.getvalue()[-2000:]


def test_lost_answers_never_adopt_a_look_alike(pipedrive_sandbox_factory, tmp_path):
    """Activities have no source-ID field: after a lost answer, a lookup must not take a sibling's record."""
    sandbox = pipedrive_sandbox_factory(plan="premium", seats=3, fixture="empty", fault_stall=0.4,
                                        stall_seconds=0.6, seed=5)
    harness = TargetHarness(sandbox, tmp_path, request_timeout=0.4)
    data = harness.practice(n_persons=2)
    base = dict(data["activities"][0], deal_source_id="treatment_plans:1", subject="Reminder", due_date="2026-02-02")
    times = ["08:00", "09:00", "10:00", "10:00", "11:00", "11:00"]  # two pairs of true twins
    data["activities"] = [dict(base, source_id=f"reminders:{n}", due_time=time_) for n, time_ in enumerate(times)]
    result = harness.run(data)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "answer lost" in result.stderr
    time.sleep(0.8)  # let any stalled request finish writing before counting
    landed = [a for a in live(sandbox.snapshot(), "activities") if a.get("subject") == "Reminder"]
    assert sorted(str(a["due_time"])[:5] for a in landed) == times
    verify = harness.command("verify")
    assert verify.returncode == 0, verify.stderr[-2000:]
