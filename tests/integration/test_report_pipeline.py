"""The report over real runs: the real mapper's reports, the real target against the Pipedrive sandbox."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from migration_report.build import ReportInputs, build_report
from testkit.mapper_run import base_config, run_mapper, singer_lines
from testkit.practice import appointment, patient, practice
from testkit.report_page import read_page

TARGET = [sys.executable, "-c", "from target_pipedrive.target import main; main()"]
ADMIN_EMAIL = "admin@sandbox-clinic.test"  # a user of the sandbox's "in-use" account


def run_target(
    sandbox, workdir: Path, singer_text: str, *command: str, run_id: str = "run-1"
) -> subprocess.CompletedProcess:
    config = workdir / "target.json"
    config.write_text(
        json.dumps(
            {
                "api_token": sandbox.api_token,
                "base_url": sandbox.base_url,
                "fallback_owner_email": ADMIN_EMAIL,
                "state_dir": str(workdir / "state"),
                "plan": "premium",
                "seats": 3,
                "run_id": run_id,
                "request_timeout": 10,
            }
        )
    )
    return subprocess.run(
        [*TARGET, *command, "--config", str(config)],
        input=singer_text,
        capture_output=True,
        text=True,
        timeout=90,
    )


@pytest.fixture
def mapped(tmp_path: Path) -> str:
    """The mapper's output for a small practice (its reports land in tmp_path/reports)."""
    return run_mapper(base_config(tmp_path), singer_lines(practice())).text


@pytest.mark.slow
def test_report_of_a_real_load_reconciles_and_matches_the_target_summary(
    pipedrive_sandbox_factory, mapped, tmp_path
):
    sandbox = pipedrive_sandbox_factory(plan="premium", seats=3, fixture="in-use", time_scale=50.0)
    loaded = run_target(sandbox, tmp_path, mapped)
    assert loaded.returncode == 0, loaded.stderr[-2000:]
    verified = run_target(sandbox, tmp_path, "", "verify")
    assert verified.returncode in (0, 1), verified.stderr[-2000:]

    html_path, json_path = build_report(
        ReportInputs(tmp_path / "state", tmp_path / "reports", tmp_path / "out")
    )
    report = json.loads(json_path.read_text("utf-8"))
    page = read_page(html_path)
    target_summary = json.loads((tmp_path / "state" / "summary.json").read_text("utf-8"))
    mapper_counts = json.loads((tmp_path / "reports" / "reconciliation.json").read_text("utf-8"))

    assert report["reconciled"] is True, report["input_problems"]
    assert page.body["data-reconciled"] == "yes"
    assert set(page.checks.values()) == {"ok"}
    for stream, counts in target_summary["streams"].items():
        for key in ("received", "created", "updated", "unchanged", "skipped"):
            assert page.number(f"load.{stream}.{key}") == counts[key], (stream, key)
    for stream, emitted in mapper_counts["records_emitted"].items():
        assert page.number(f"handover.{stream}.emitted") == emitted
    for stream, counts in mapper_counts["streams"].items():
        assert page.number(f"source.{stream}.in") == counts["in"]
    assert page.number("throughput.calls") == target_summary["api"]["calls"]
    assert page.number("budget.remaining") == target_summary["api"]["daily_tokens_remaining"]
    verify = json.loads((tmp_path / "state" / "verify_summary.json").read_text("utf-8"))
    assert page.number("verify.total_mismatches") == verify["mismatches"]
    for entity, checked in verify["checked"].items():
        assert page.number(f"verify.{entity}.checked") == checked
    skip_lines = (tmp_path / "state" / "skipped.jsonl").read_text("utf-8").splitlines()
    assert page.number("skips.total") == sum(1 for line in skip_lines if line.strip())
    assert page.number("dedupe.merges") == len(
        json.loads((tmp_path / "reports" / "dedupe.json").read_text())["merges"]
    )
    assert (html_path.parent / page.links["workflows"]).is_file()
    assert (html_path.parent / page.links["field_map"]).is_file()
    assert sandbox.api_token not in html_path.read_text("utf-8") + json_path.read_text("utf-8")


def ledger_counts(state: Path) -> tuple[Counter, Counter]:
    """Landed entities per stream straight from the target's ledger: (created by the migration, adopted)."""
    database = sqlite3.connect(state / "ledger.sqlite")
    try:
        rows = database.execute("SELECT stream, origin FROM entities WHERE status = 'done'").fetchall()
    finally:
        database.close()
    return (
        Counter(stream for stream, origin in rows if origin == "created"),
        Counter(stream for stream, origin in rows if origin == "preexisting"),
    )


@pytest.mark.slow
def test_report_after_a_full_and_a_delta_run_covers_both_runs_and_the_ledger(
    pipedrive_sandbox_factory, tmp_path
):
    sandbox = pipedrive_sandbox_factory(plan="premium", seats=3, fixture="in-use", time_scale=50.0)
    config = base_config(tmp_path)
    full = practice()
    full["appointments"].append(
        appointment(205, 999, "pending")
    )  # skipped by the mapper in the full run: its patient is not there (yet)
    full_run = run_target(sandbox, tmp_path, run_mapper(config, singer_lines(full)).text, run_id="full")
    assert full_run.returncode == 0, full_run.stderr[-2000:]
    # The delta: a changed patient and a changed appointment, the skipped appointment fixed, a new one.
    delta = {
        "patients": [patient(102, "Bob", "Browne", "bob@example.com", referral_source="Friend", dob=None)],
        "appointments": [
            appointment(201, 101, "pending", fee="150.00"),
            appointment(205, 102, "pending"),
            appointment(250, 101, "pending"),
        ],
    }
    delta_run = run_target(sandbox, tmp_path, run_mapper(config, singer_lines(delta)).text, run_id="delta")
    assert delta_run.returncode == 0, delta_run.stderr[-2000:]

    html_path, json_path = build_report(
        ReportInputs(tmp_path / "state", tmp_path / "reports", tmp_path / "out")
    )
    report = json.loads(json_path.read_text("utf-8"))
    page = read_page(html_path)
    state = tmp_path / "state"
    summaries = {
        run_id: json.loads((state / f"summary-{run_id}.json").read_text("utf-8"))
        for run_id in ("full", "delta")
    }
    assert report["input_problems"] == [] and report["reconciled"] is True
    assert [(run["run_id"], run["latest"]) for run in report["runs"]] == [("full", False), ("delta", True)]
    for run in report["runs"]:
        summary = summaries[run["run_id"]]
        for key in ("received", "created", "updated", "unchanged", "skipped"):
            assert run[key] == page.number(f"runs.{run['run_id']}.{key}") == summary["totals"][key], (
                run,
                key,
            )
        for key in ("calls", "status_429", "tokens"):
            assert run[key] == page.number(f"runs.{run['run_id']}.{key}") == summary["api"][key], (run, key)
    delta_counts = summaries["delta"]["streams"]
    assert delta_counts["persons"]["updated"] == 1 and delta_counts["deals"]["updated"] == 1
    assert delta_counts["deals"]["created"] == 2

    created, adopted = ledger_counts(state)
    migration = {row["stream"]: row for row in report["migration"]["streams"]}
    for stream in set(created) | set(adopted):
        assert migration[stream]["created"] == page.number(f"migration.{stream}.created") == created[stream]
        assert migration[stream]["adopted"] == adopted[stream]
        assert migration[stream]["in_pipedrive"] == created[stream] + adopted[stream]
        # Created once, whatever later runs did to it: the runs' creates add up to the ledger's.
        assert created[stream] == sum(
            s["streams"].get(stream, {}).get("created", 0) for s in summaries.values()
        )
    assert page.number("migration.created") == sum(created.values())
    # The patient and the appointment changed by the delta were created by the full run: updated once each.
    assert (
        migration["persons"]["updated_after_create"] == 1 and migration["deals"]["updated_after_create"] == 1
    )
    # appointments:205, skipped by the full run, landed in the delta: not skipped over the whole migration.
    assert "appointments" not in migration or migration["appointments"]["skipped"] == 0
    assert "Latest run (delta)" in "".join(page.text)
