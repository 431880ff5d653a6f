"""The real console script: --about, propose, confirm, and one stdin → stdout run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.transform.helpers import Output, singer_lines
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
