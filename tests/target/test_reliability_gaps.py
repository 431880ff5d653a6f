"""Reliability-suite gaps (issue 5): config exit codes, rejected token, enum fields, children, rollback."""

from __future__ import annotations

import copy
import json

from tests.target.conftest import live
from tests.target.contract import SCHEMAS, messages, write_singer


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
