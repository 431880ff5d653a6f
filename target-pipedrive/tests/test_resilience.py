"""Crashes, faults and an exhausted budget never duplicate a record, and a re-run finishes the job."""

from __future__ import annotations

import collections
import json
import signal
import sqlite3
import subprocess
import time

from testkit.target_run import TARGET, live, target_env


def _source_ids(harness, entity: str, logical: str = "practicehub_id") -> collections.Counter:
    rows = json.loads((harness.state_dir / "field_map.json").read_text())
    key = next(r["key"] for r in rows if r["entity"] == entity and r["logical_name"] == logical)
    return collections.Counter(
        (p.get("custom_fields") or {}).get(key) for p in live(harness.sandbox.snapshot(), entity)
        if (p.get("custom_fields") or {}).get(key)
    )


def test_sigkill_mid_load_then_resume_creates_no_duplicates(harness):
    data = harness.practice(n_persons=160)
    path = harness.input_file(data)
    config = harness.config_path(max_concurrency=2)
    mark = harness.log_mark()
    with open(path, encoding="utf-8") as stdin:
        proc = subprocess.Popen([*TARGET, "--config", str(config)], stdin=stdin, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, env=target_env(), cwd=harness.workdir)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        posts = [w for w in harness.writes(mark) if w["method"] == "POST" and w["path"].endswith("/persons")]
        if len(posts) >= 40:
            break
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    assert proc.returncode == -signal.SIGKILL
    landed_before = sum(_source_ids(harness, "persons").values())
    assert 40 <= landed_before < 160, "the kill must land mid-load"

    resumed = harness.run(data, run_id="run-2")
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    persons = _source_ids(harness, "persons")
    assert len(persons) == 160 and max(persons.values()) == 1, json.dumps(resumed.summary["streams"]["persons"])
    assert max(_source_ids(harness, "deals").values()) == 1
    assert resumed.summary["reconciles"]
    assert resumed.summary["streams"]["persons"]["unchanged"] + resumed.summary["streams"]["persons"]["created"] == 160


def test_pending_intent_is_adopted_not_created_twice(harness):
    """A crash after Pipedrive answered but before the ledger commit leaves a `pending` row."""
    data = harness.practice()
    assert harness.run(data).returncode == 0
    with sqlite3.connect(harness.state_dir / "ledger.sqlite") as db:
        db.execute("UPDATE entities SET status='pending', pipedrive_id=NULL, content_hash=NULL, sent=NULL"
                   " WHERE source_id IN ('patients:102', 'treatment_plans:3')")
    mark = harness.log_mark()
    result = harness.run(data, run_id="run-2")
    assert result.returncode == 0, result.stderr[-2000:]
    assert [w for w in harness.writes(mark) if w["method"] == "POST"] == []
    searches = [e for e in harness.sandbox.requests_log(mark) if "itemSearch/field" in e["path"]]
    assert len(searches) == 2
    assert max(_source_ids(harness, "persons").values()) == 1 and max(_source_ids(harness, "deals").values()) == 1


def test_faults_are_retried_and_dropped_answers_do_not_duplicate(harness):
    harness.sandbox.configure(fault_5xx=0.1, fault_429=0.1, fault_drop=0.08)
    data = harness.practice(n_persons=30)
    result = harness.run(data)
    assert result.returncode == 0, result.stderr[-2000:]
    summary = result.summary
    assert summary["reconciles"] and summary["totals"]["skipped"] == 0
    assert summary["totals"]["created"] == summary["totals"]["received"]
    assert summary["api"]["retries"] > 0
    persons = _source_ids(harness, "persons")
    assert len(persons) == 30 and max(persons.values()) == 1
    snap = harness.sandbox.snapshot()
    notes = collections.Counter(n["content"] for n in live(snap, "notes") if "Treatment note" in n["content"])
    assert len(notes) == 3 and max(notes.values()) == 1
    files = collections.Counter(f["name"] for f in live(snap, "files") if f["name"].startswith("scan-"))
    assert len(files) == 2 and max(files.values()) == 1


def test_budget_exhaustion_stops_cleanly_and_resumes(harness):
    harness.sandbox.configure(daily_budget=300)
    data = harness.practice(n_persons=30)
    first = harness.run(data, in_process=False)
    assert first.returncode == 3
    assert "daily token budget" in first.stderr and "re-run" in first.stderr
    assert "Traceback" not in first.stderr
    assert first.summary["status"] == "budget_exhausted"
    landed = sum(_source_ids(harness, "persons").values()) if (harness.state_dir / "field_map.json").exists() else 0
    assert landed < 30

    harness.sandbox.configure(daily_budget=100_000)
    second = harness.run(data, run_id="run-2")
    assert second.returncode == 0, second.stderr[-2000:]
    persons = _source_ids(harness, "persons")
    assert len(persons) == 30 and max(persons.values()) == 1
    assert second.summary["reconciles"]
