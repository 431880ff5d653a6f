"""`migration-report` (what `meltano invoke target-pipedrive:report` runs) and `python -m migration_report`:
exit 0 when it reconciles, 1 when not, 2 on a usage error; the files it writes are owner-only."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from migration_report.cli import main
from testkit.report_inputs import write_inputs

CONSOLE_SCRIPT = Path(sys.executable).with_name("migration-report")
COMMANDS = {"console script": [str(CONSOLE_SCRIPT)], "python -m": [sys.executable, "-m", "migration_report"]}


def run(command: list[str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([*command, *args], capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("how", COMMANDS)
def test_cli_writes_both_files_owner_only(tmp_path: Path, report_inputs, how):
    state_dir, transform_reports = write_inputs(tmp_path, report_inputs)
    out = tmp_path / "out"
    result = run(COMMANDS[how], "--state-dir", str(state_dir), "--transform-reports", str(transform_reports),
                 "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert "reconciles" in result.stdout
    summary = json.loads((out / "migration_report.json").read_text("utf-8"))
    assert summary["reconciled"] is True and summary["totals"]["records_in"] == 429
    assert (out / "migration_report.html").read_text("utf-8").startswith("<!DOCTYPE html>")
    for path in (out / "migration_report.html", out / "migration_report.json"):
        assert path.stat().st_mode & 0o777 == 0o600, path  # it names patients' PracticeHub ids
    assert out.stat().st_mode & 0o777 == 0o700


def test_cli_exits_1_and_names_problems_when_counts_do_not_add_up(tmp_path: Path, report_inputs, capsys):
    report_inputs["state"]["summary.json"]["streams"]["persons"]["created"] = 1
    del report_inputs["state"]["field_map.json"]
    state_dir, transform_reports = write_inputs(tmp_path, report_inputs)
    assert main(["--state-dir", str(state_dir), "--transform-reports", str(transform_reports),
                 "--out", str(tmp_path / "out")]) == 1
    printed = capsys.readouterr()
    assert "does NOT reconcile" in printed.out
    assert "input problem: field_map.json: not found (no link)" in printed.err


def test_cli_refuses_a_missing_folder(tmp_path: Path, capsys):
    code = main(["--state-dir", str(tmp_path / "nope"), "--transform-reports", str(tmp_path),
                 "--out", str(tmp_path / "out")])
    assert code == 2
    err = capsys.readouterr().err
    # one line naming the folder and the command that writes it
    assert err.count("\n") == 1 and "nope does not exist yet" in err and "meltano run full-migration" in err
    assert not (tmp_path / "out").exists()
