"""`target-mapping-proposal` (the loader of `meltano run propose-mapping`) and propose's missing inputs."""

from __future__ import annotations

import json
import stat
import subprocess
import sys
from pathlib import Path

from map_practicehub_pipedrive.mapping import dump, propose
from map_practicehub_pipedrive.proposal_inputs import AuditInputs
from testkit.practice import practice

PROPOSAL = str(Path(sys.executable).parent / "target-mapping-proposal")
MAPPER = str(Path(sys.executable).parent / "map-practicehub-pipedrive")


def _singer() -> tuple[str, dict, dict]:
    """A tap's output: SCHEMA then RECORDs per stream, a STATE between; and the catalog and sample in it."""
    lines, streams, records = [], [], {}
    for name, rows in practice().items():
        schema = {"type": "object", "properties": {key: {"type": ["string", "null"]} for key in rows[0]}}
        lines.append({"type": "SCHEMA", "stream": name, "schema": schema, "key_properties": ["id"]})
        streams.append({"tap_stream_id": name, "stream": name, "key_properties": ["id"], "schema": schema})
        lines += [{"type": "RECORD", "stream": name, "record": row} for row in rows]
        records[name] = rows
        lines.append({"type": "STATE", "value": {"bookmarks": {name: {}}}})
    return "".join(json.dumps(line) + "\n" for line in lines), {"streams": streams}, records


def _run(tmp_path: Path, text: str) -> subprocess.CompletedProcess:
    out = tmp_path / "output" / "dev"
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"mapping_file": str(out / "mapping.yml"), "catalog_file": str(out / "catalog.json"),
                                  "sample_file": str(out / "sample.singer")}))
    return subprocess.run([PROPOSAL, "--config", str(config)], input=text, capture_output=True, text=True,
                          timeout=60, cwd=tmp_path)


def test_proposes_from_the_taps_schemas_and_records(tmp_path):
    text, catalog, records = _singer()
    result = _run(tmp_path, text)
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""  # a target: nothing on stdout, so no STATE for Meltano to save
    out = tmp_path / "output" / "dev"
    written = (out / "mapping.yml").read_text()
    # what `propose --catalog --sample` makes of the same (no audit folder here: the header says so)
    assert written == dump(propose(catalog, records), AuditInputs().describe())
    assert json.loads((out / "catalog.json").read_text()) == catalog
    assert sum(1 for line in (out / "sample.singer").read_text().splitlines() if '"RECORD"' in line) == sum(
        len(rows) for rows in records.values())
    assert {stat.S_IMODE(path.stat().st_mode) for path in out.iterdir()} == {0o600}
    assert stat.S_IMODE(out.stat().st_mode) == 0o700
    assert "review and edit it, then run: meltano invoke map-practicehub-pipedrive:confirm" in result.stderr

    # proposing again keeps the reviewed file beside the new one
    (out / "mapping.yml").write_text(written + "# my edits\n")
    again = _run(tmp_path, text)
    assert again.returncode == 0 and "mapping.previous.yml" in again.stderr
    assert (out / "mapping.previous.yml").read_text().endswith("# my edits\n")

    # the mapper's propose command proposes again from what the job saved, without PracticeHub
    offline = subprocess.run([MAPPER, "propose", "--catalog", str(out / "catalog.json"), "--sample",
                              str(out / "sample.singer"), "--out", str(tmp_path / "again.yml")],
                             capture_output=True, text=True, timeout=60)
    assert offline.returncode == 0, offline.stderr
    assert (tmp_path / "again.yml").read_text() == written


def test_bad_input_is_one_line(tmp_path):
    for text, message in (("not json\n", "input line 1 is not JSON"),
                          ("", "the tap sent no streams: nothing to propose a mapping from")):
        result = _run(tmp_path, text)
        assert result.returncode == 2 and message in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr


def test_propose_without_its_inputs_names_the_job_that_makes_them(tmp_path):
    result = subprocess.run([MAPPER, "propose", "--catalog", str(tmp_path / "catalog.json"), "--sample",
                             str(tmp_path / "sample.singer"), "--out", str(tmp_path / "mapping.yml")],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert "catalog.json not found: `meltano run propose-mapping`" in result.stderr
