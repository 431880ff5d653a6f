"""The plugin as Meltano runs it: propose and confirm as plugin commands, then the mapper itself."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from testkit.mapper_run import Output, singer_lines
from testkit.practice import practice

MELTANO = Path(sys.executable).parent / "meltano"
SCRIPT = Path(sys.executable).parent / "map-practicehub-pipedrive"

PROJECT = f"""\
requires_meltano: ">=4.0"
send_anonymous_usage_stats: false
project_id: transform-test
cli: {{disable_version_check: true}}
plugins:
  mappers:
    - name: map-practicehub-pipedrive
      namespace: map_practicehub_pipedrive
      executable: {SCRIPT}
      settings:
        - {{name: mapping_file}}
        - {{name: phi_policy, value: refuse}}
        - {{name: reports_dir}}
      config:
        mapping_file: $MELTANO_PROJECT_ROOT/mapping.yml
        reports_dir: $MELTANO_PROJECT_ROOT/output
        phi_policy: exclude
      commands:
        propose:
          args: propose --sample $MELTANO_PROJECT_ROOT/sample.singer --out $MELTANO_PROJECT_ROOT/mapping.yml
        confirm:
          args: confirm --mapping $MELTANO_PROJECT_ROOT/mapping.yml --by meltano-test
      mappings:
        - name: practicehub-to-pipedrive
          config: {{}}
"""


@pytest.mark.slow
@pytest.mark.skipif(not MELTANO.exists(), reason="meltano is not installed in this environment")
def test_meltano_invokes_propose_confirm_and_the_mapper(tmp_path):
    (tmp_path / "meltano.yml").write_text(PROJECT)
    sample = "\n".join(singer_lines(practice())) + "\n"
    (tmp_path / "sample.singer").write_text(sample)
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / ".cache"), "XDG_STATE_HOME": str(tmp_path / ".state"),
           "UV_CACHE_DIR": str(tmp_path / ".uv"), "MELTANO_SEND_ANONYMOUS_USAGE_STATS": "false",
           "MELTANO_CLI_DISABLE_VERSION_CHECK": "1"}

    def meltano(*args: str, stdin: str = "") -> subprocess.CompletedProcess:
        return subprocess.run([str(MELTANO), *args], cwd=tmp_path, env=env, input=stdin, capture_output=True,
                              text=True, timeout=120)

    proposed = meltano("invoke", "map-practicehub-pipedrive:propose")
    assert proposed.returncode == 0, proposed.stderr
    confirmed = meltano("invoke", "map-practicehub-pipedrive:confirm")
    assert confirmed.returncode == 0, confirmed.stderr
    assert "by: meltano-test" in (tmp_path / "mapping.yml").read_text()
    mapped = meltano("invoke", "map-practicehub-pipedrive", stdin=sample)
    assert mapped.returncode == 0, mapped.stderr
    output = Output(mapped.stdout)
    assert output.by_id("persons")["patients:101"]["birthday"] is None  # phi_policy exclude from meltano.yml
    assert (tmp_path / "output" / "reconciliation.json").exists()


def test_the_readme_snippet_sets_source_timezone_and_the_taps_timezone_from_one_value():
    """The mapper turns naive PracticeHub times into UTC with source_timezone; the tap reads them with its
    `timezone`. The documented meltano.yml must feed both from the same variable."""
    import re

    import yaml

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text("utf-8")
    section = readme[readme.index("### meltano.yml"):]
    snippet = yaml.safe_load(re.search(r"```yaml\n(.*?)```", section, re.S).group(1))
    tap = next(p for p in snippet["plugins"]["extractors"] if p["name"] == "tap-practicehub")
    mapper = next(p for p in snippet["plugins"]["mappers"] if p["name"] == "map-practicehub-pipedrive")
    assert tap["config"]["timezone"] == mapper["config"]["source_timezone"] == "$PRACTICEHUB_TIMEZONE"
    from map_practicehub_pipedrive.settings import CONFIG_SCHEMA

    assert "tap-practicehub's `timezone`" in CONFIG_SCHEMA["properties"]["source_timezone"]["description"]
