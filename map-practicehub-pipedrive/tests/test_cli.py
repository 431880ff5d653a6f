"""The real console script: --about, propose, confirm, and runs (config from files or the environment)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from testkit.mapper_run import Output, singer_lines, write_mapping
from testkit.practice import practice

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


def test_a_run_reads_config_files_the_environment_or_both_and_input_from_a_file(tmp_path):
    """The SDK's CLI: `--config FILE` (as Meltano starts a mapper), `--config ENV`, `--input FILE`; later
    sources override earlier ones, and a blank optional setting (an unset $VARIABLE) counts as unset."""
    mapping = write_mapping(tmp_path / "map")
    source = tmp_path / "input.singer"
    source.write_text("\n".join(singer_lines(practice())) + "\n")
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"mapping_file": str(mapping), "phi_policy": "include", "baa_reference": "BAA-1",
                                  "source_timezone": "Australia/Sydney", "currency": "AUD", "date_order": "",
                                  "sample_size": "", "reports_dir": str(tmp_path / "file")}))
    from_file = run("--config", str(config), "--input", str(source))
    assert from_file.returncode == 0, from_file.stderr
    env = {"MAP_PRACTICEHUB_PIPEDRIVE_REPORTS_DIR": str(tmp_path / "env")}
    from_env = run("--config", str(config), "--config", "ENV", stdin=source.read_text(), env=env)
    assert from_env.returncode == 0, from_env.stderr
    assert from_file.stdout == from_env.stdout and Output(from_file.stdout).by_id("persons")
    assert (tmp_path / "file" / "reconciliation.json").read_text() == (
        tmp_path / "env" / "reconciliation.json").read_text()


def test_a_run_reports_bad_input_and_bad_settings_without_a_traceback_or_the_line(tmp_path):
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
    assert refused.returncode == 1 and "Traceback" not in refused.stderr
    assert "3 is not of type 'string' in config['mapping_file']" in refused.stderr
    assert "'maybe' is not one of ['refuse', 'exclude', 'include'] in config['phi_policy']" in refused.stderr
    batch = run("--config", str(config), stdin='{"type": "BATCH", "stream": "patients"}\n')
    assert batch.returncode == 1 and "Singer message type 'BATCH' is not supported" in batch.stderr
    assert "Traceback" not in batch.stderr
