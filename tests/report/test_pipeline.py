"""The report over a real run: the real mapper's reports, the real target against the Pipedrive sandbox."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from target_pipedrive.html_report import ReportInputs, build_report

from tests.report.page_reader import read_page
from tests.transform.helpers import base_config, run_mapper, singer_lines
from tests.transform.practice import practice

TARGET = [sys.executable, "-c", "from target_pipedrive.target import main; main()"]
ADMIN_EMAIL = "admin@sandbox-clinic.test"  # a user of the sandbox's "in-use" account


def run_target(sandbox, workdir: Path, singer_text: str, *command: str) -> subprocess.CompletedProcess:
    config = workdir / "target.json"
    config.write_text(json.dumps({"api_token": sandbox.api_token, "base_url": sandbox.base_url,
                                  "fallback_owner_email": ADMIN_EMAIL, "state_dir": str(workdir / "state"),
                                  "plan": "premium", "seats": 3, "run_id": "run-1", "request_timeout": 10}))
    return subprocess.run([*TARGET, *command, "--config", str(config)], input=singer_text, capture_output=True,
                          text=True, timeout=90)


@pytest.fixture
def mapped(tmp_path: Path) -> str:
    """The mapper's output for a small practice (its reports land in tmp_path/reports)."""
    return run_mapper(base_config(tmp_path), singer_lines(practice())).text


@pytest.mark.slow
def test_report_of_a_real_load_reconciles_and_matches_the_target_summary(pipedrive_sandbox_factory, mapped, tmp_path):
    sandbox = pipedrive_sandbox_factory(plan="premium", seats=3, fixture="in-use", time_scale=50.0)
    loaded = run_target(sandbox, tmp_path, mapped)
    assert loaded.returncode == 0, loaded.stderr[-2000:]
    verified = run_target(sandbox, tmp_path, "", "verify")
    assert verified.returncode in (0, 1), verified.stderr[-2000:]

    html_path, json_path = build_report(ReportInputs(tmp_path / "state", tmp_path / "reports", tmp_path / "out"))
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
    assert page.number("dedupe.merges") == len(json.loads((tmp_path / "reports" / "dedupe.json").read_text())["merges"])
    assert (html_path.parent / page.links["workflows"]).is_file()
    assert (html_path.parent / page.links["field_map"]).is_file()
    assert sandbox.api_token not in html_path.read_text("utf-8") + json_path.read_text("utf-8")
