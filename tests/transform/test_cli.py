"""The real console script: --about, propose, confirm, and one stdin → stdout run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.transform.helpers import Output, singer_lines, write_mapping
from tests.transform.practice import practice

SCRIPT = str(Path(sys.executable).parent / "map-practicehub-pipedrive")


def run(*args: str, stdin: str = "", env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([SCRIPT, *args], input=stdin, capture_output=True, text=True, timeout=60,
                          env={**os.environ, **(env or {})})


def test_about_lists_the_settings():
    result = run("--about", "--format", "json")
    assert result.returncode == 0, result.stderr
    about = json.loads(result.stdout)
    assert about["name"] == "map-practicehub-pipedrive"
    assert set(about["settings"]["properties"]) >= {"mapping_file", "phi_policy", "baa_reference", "sample_size",
                                                    "reports_dir", "source_timezone", "currency", "automation_cap"}


def test_propose_confirm_then_map_stdin_to_stdout(tmp_path):
    sample = tmp_path / "sample.singer"
    sample.write_text("\n".join(singer_lines(practice())) + "\n")
    mapping = tmp_path / "mapping.yml"
    proposed = run("propose", "--sample", str(sample), "--out", str(mapping))
    assert proposed.returncode == 0, proposed.stderr
    assert f"confirm --mapping {mapping}" in proposed.stdout
    assert "de-duplication merges only the same email + name + date_of_birth" in proposed.stdout
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"mapping_file": str(mapping), "phi_policy": "exclude",
                                  "reports_dir": str(tmp_path / "reports")}))
    refused = run("--config", str(config), stdin=sample.read_text())
    assert refused.returncode == 2
    assert f"map-practicehub-pipedrive confirm --mapping {mapping}" in refused.stderr
    assert "Traceback" not in refused.stderr
    confirmed = run("confirm", "--mapping", str(mapping), "--by", "ci")
    assert confirmed.returncode == 0, confirmed.stderr
    result = run("--config", str(config), stdin=sample.read_text())
    assert result.returncode == 0, result.stderr
    output = Output(result.stdout)
    assert set(output.records) == {"organizations", "persons", "deals", "activities", "notes", "skipped"}
    assert len(output.states) == 18 and output.messages[-1]["type"] == "STATE"
    # Logs carry counts, never patient data.
    for secret in ("alice@example.com", "Anders", "MRN-101", "1985-07-14"):
        assert secret not in result.stderr
    assert json.loads((tmp_path / "reports" / "reconciliation.json").read_text())["balanced"]


def test_propose_refuses_to_overwrite(tmp_path):
    target = tmp_path / "mapping.yml"
    target.write_text("keep me")
    result = run("propose", "--sample", "-", "--out", str(target), stdin="")
    assert result.returncode == 2 and "--force" in result.stderr
    assert target.read_text() == "keep me"


def test_a_plain_run_skips_the_sdk_import_and_matches_the_sdk_path_byte_for_byte(tmp_path):
    """`--config FILE` runs on the fast path (no singer-sdk import: start-up cost); `--config ENV` on the SDK's
    CLI. Both must write the same messages."""
    mapping = write_mapping(tmp_path / "map")
    lines = "\n".join(singer_lines(practice())) + "\n"
    settings = {"mapping_file": str(mapping), "phi_policy": "include", "baa_reference": "BAA-1",
                "source_timezone": "Australia/Sydney", "currency": "AUD"}
    config = tmp_path / "config.json"
    config.write_text(json.dumps({**settings, "reports_dir": str(tmp_path / "fast")}))
    probe = ("import atexit, sys; from map_practicehub_pipedrive.console import main; "
             "atexit.register(lambda: print('SDK' if 'singer_sdk' in sys.modules else 'NO-SDK', file=sys.stderr)); "
             "main()")
    fast = subprocess.run([sys.executable, "-c", probe, "--config", str(config)], input=lines,
                          capture_output=True, text=True, timeout=60)
    assert fast.returncode == 0, fast.stderr
    assert fast.stderr.strip().endswith("NO-SDK")
    env = {f"MAP_PRACTICEHUB_PIPEDRIVE_{key.upper()}": value for key, value in settings.items()}
    env["MAP_PRACTICEHUB_PIPEDRIVE_REPORTS_DIR"] = str(tmp_path / "sdk")
    sdk = run("--config", "ENV", stdin=lines, env=env)
    assert sdk.returncode == 0, sdk.stderr
    assert fast.stdout == sdk.stdout and Output(fast.stdout).by_id("persons")
    assert (tmp_path / "fast" / "reconciliation.json").read_text() == (
        tmp_path / "sdk" / "reconciliation.json").read_text()


def test_a_plain_run_reports_bad_input_without_a_traceback_or_the_line(tmp_path):
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"mapping_file": str(write_mapping(tmp_path)), "phi_policy": "include",
                                  "baa_reference": "BAA-1", "reports_dir": str(tmp_path / "reports")}))
    result = run("--config", str(config), stdin='{"type": "RECORD", "stream": "patients", "record": {"name": "Ann\n')
    assert result.returncode == 1 and "input line 1: Unable to parse an input line as JSON" in result.stderr
    assert "Ann" not in result.stderr and "Traceback" not in result.stderr
    wrong = run("--config", str(config), stdin="{}")
    assert wrong.returncode == 1 and "Singer message type None is not supported" in wrong.stderr
    bad_config = tmp_path / "bad.json"
    bad_config.write_text(json.dumps({"mapping_file": 3, "phi_policy": "maybe"}))
    refused = run("--config", str(bad_config))
    assert refused.returncode == 2
    assert "'mapping_file' must be a string; 'phi_policy' must be one of" in refused.stderr
