"""meltano.yml runs the report (`meltano invoke target-pipedrive:report`) with the documented folders."""

from __future__ import annotations

import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
CONSOLE_SCRIPT = Path(sys.executable).with_name("migration-report")


def test_the_meltano_report_command_runs_this_cli_with_the_documented_folders():
    project = yaml.safe_load((ROOT / "meltano.yml").read_text())
    target = next(p for p in project["plugins"]["loaders"] if p["name"] == "target-pipedrive")
    command = target["commands"]["report"]
    assert command["executable"] == CONSOLE_SCRIPT.name
    assert "./report" in target["pip_url"].split()  # the command's executable is installed in the target's venv
    args = command["args"].split()
    assert args[args.index("--out") + 1] == "output/$MELTANO_ENVIRONMENT/report"
    assert args[args.index("--state-dir") + 1] == target["config"]["state_dir"]
