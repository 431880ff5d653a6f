"""Meltano's system database (and so the tap's bookmarks) on a real PostgreSQL server."""

from __future__ import annotations

import json
import subprocess

import pytest
import sqlalchemy

from tests.e2e.conftest import BIN, meltano_env

pytestmark = pytest.mark.slow


def _meltano(project, env, *args):
    result = subprocess.run([str(BIN / "meltano"), *args], cwd=project, env=env, capture_output=True, text=True,
                            timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def _records(project) -> dict[str, int]:
    return {path.stem: len(path.read_text().splitlines()) for path in (project / "output" / "jsonl").glob("*.jsonl")}


def test_incremental_pipeline_keeps_its_state_in_postgres(project_copy, postgres_uri, practicehub_sandbox_factory):
    sandbox = practicehub_sandbox_factory(dataset="tiny", api_keys=("pg-key",), rate=50.0, burst=2)
    env = meltano_env(
        project_copy,
        MELTANO_DATABASE_URI=postgres_uri,
        MELTANO_ENVIRONMENT="demo",  # 20 requests/s
        PRACTICEHUB_BASE_URL=sandbox.base_url,
        PRACTICEHUB_API_KEYS=json.dumps(list(sandbox.api_keys)),
        PRACTICEHUB_APP_DETAILS="state-test=it@example.com",
    )
    _meltano(project_copy, env, "install", "extractor", "tap-practicehub")
    _meltano(project_copy, env, "install", "loader", "target-jsonl")

    _meltano(project_copy, env, "run", "tap-practicehub", "target-jsonl")
    first = _records(project_copy)
    assert first["patients"] == len(sandbox.dataset["patients"])

    engine = sqlalchemy.create_engine(postgres_uri)
    with engine.connect() as connection:
        rows = connection.execute(sqlalchemy.text("select state_id, partial_state, completed_state from state")).all()
    assert [row.state_id for row in rows] == ["demo:tap-practicehub-to-target-jsonl"]
    stored = rows[0].completed_state or rows[0].partial_state
    stored = stored if isinstance(stored, dict) else json.loads(stored)
    assert "patients" in json.dumps(stored)

    patient = min(sandbox.dataset["patients"], key=lambda row: row["id"])
    sandbox.patch_record("patients", patient["id"], {"mobile": "+44 7700 900123"})
    for path in (project_copy / "output" / "jsonl").glob("*.jsonl"):
        path.unlink()
    _meltano(project_copy, env, "run", "tap-practicehub", "target-jsonl")
    second = _records(project_copy)
    changed = [json.loads(line) for line in (project_copy / "output" / "jsonl" / "patients.jsonl").read_text().splitlines()]
    assert patient["id"] in {row["id"] for row in changed}
    assert sum(second.values()) < sum(first.values()) / 2, "the second run re-read the whole practice"
