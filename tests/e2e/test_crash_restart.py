"""A migration killed mid-load (SIGKILL of the whole `meltano run`) resumes with the documented command:
no duplicate, nothing missing; and a second load can never run beside a live one."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.e2e.conftest import meltano_env
from tests.reliability.conftest import confirmed_mapping, start_pipedrive, start_practicehub  # noqa: F401

pytestmark = pytest.mark.slow
ENVIRONMENT = "demo"  # meltano.yml's demo environment: the tap at 20 requests/s (the sandbox allows it)


def ledger_done(state_dir: Path) -> dict[str, int]:
    path = state_dir / "ledger.sqlite"
    if not path.exists():
        return {}
    try:
        with sqlite3.connect(path, timeout=5) as db:
            return dict(db.execute("SELECT stream, COUNT(*) FROM entities WHERE status='done' GROUP BY stream"))
    except sqlite3.OperationalError:
        return {}  # the target is still creating it


def live_counts(pipedrive) -> dict[str, int]:
    snapshot = pipedrive.snapshot()
    return {entity: sum(1 for row in snapshot[entity] if not row.get("is_deleted"))
            for entity in ("organizations", "persons", "deals", "activities", "notes", "files")}


@pytest.fixture
def killed_migration(project_copy, confirmed_mapping, tmp_path):  # noqa: F811 (the imported fixture)
    practicehub = start_practicehub("tiny")
    pipedrive = start_pipedrive(tmp_path / "pipedrive.sqlite3", time_scale=2.0)  # slow enough to kill mid-load
    out = project_copy / "output" / ENVIRONMENT
    out.mkdir(parents=True, exist_ok=True)
    for folder in (out.parent, out):  # as the project's own commands make them: private
        folder.chmod(0o700)
    (out / "mapping.yml").write_text(confirmed_mapping.read_text())
    (out / "mapping.yml").chmod(0o600)
    env = meltano_env(
        project_copy, MELTANO_ENVIRONMENT=ENVIRONMENT,
        MELTANO_DATABASE_URI=f"sqlite:///{tmp_path / 'meltano.db'}",
        PRACTICEHUB_BASE_URL=practicehub.base_url, PRACTICEHUB_API_KEYS=json.dumps(list(practicehub.api_keys)),
        PRACTICEHUB_APP_DETAILS="crash-test=tests@example.com", PRACTICEHUB_TIMEZONE="UTC",
        PIPEDRIVE_BASE_URL=pipedrive.base_url, PIPEDRIVE_API_TOKEN=pipedrive.api_token,
        PIPEDRIVE_FALLBACK_OWNER_EMAIL="admin@sandbox-clinic.test", PIPEDRIVE_PLAN="premium", PIPEDRIVE_SEATS="3",
        PHI_POLICY="include", BAA_REFERENCE="BAA-TEST-0001")
    subprocess.run([str(Path(sys.executable).parent / "meltano"), "install"], cwd=project_copy, env=env,
                   check=True, capture_output=True, timeout=900)
    before = live_counts(pipedrive)
    log = (tmp_path / "killed-run.log").open("w")
    run = subprocess.Popen([str(Path(sys.executable).parent / "meltano"), "run", "full-migration"], cwd=project_copy,
                           env=env, stdout=log, stderr=log, start_new_session=True)
    deadline = time.monotonic() + 300
    while sum(ledger_done(out / "pipedrive").values()) < 15 and run.poll() is None and time.monotonic() < deadline:
        time.sleep(0.2)
    assert run.poll() is None, (tmp_path / "killed-run.log").read_text()[-3000:]
    os.killpg(run.pid, signal.SIGKILL)
    run.wait()
    try:
        yield project_copy, env, out, pipedrive, before
    finally:
        practicehub.stop()
        pipedrive.stop()


def test_a_killed_migration_resumes_with_the_documented_command(killed_migration):
    project, env, out, pipedrive, before = killed_migration
    meltano = str(Path(sys.executable).parent / "meltano")
    again = subprocess.run([meltano, "run", "full-migration"], cwd=project, env=env, capture_output=True, text=True,
                           timeout=600)
    assert again.returncode != 0 and "already running" in again.stderr + again.stdout  # what users meet today
    resumed = subprocess.run([sys.executable, "scripts/resume.py", "full-migration"], cwd=project, env=env,
                             capture_output=True, text=True, timeout=900)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "No migration process is alive" in resumed.stderr
    landed, after = ledger_done(out / "pipedrive"), live_counts(pipedrive)
    for entity, count in after.items():
        assert count - before[entity] == landed.get(entity, 0), (entity, count, before[entity], landed)  # no duplicate
    checked = subprocess.run([meltano, "run", "reconcile"], cwd=project, env=env, capture_output=True, text=True,
                             timeout=900)
    summary = json.loads((out / "pipedrive" / "reconcile.json").read_text())
    assert checked.returncode == 0 and summary["unexplained"] == 0, summary  # nothing missing


def test_resume_refuses_while_a_migration_process_is_alive(project_copy):
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)", "target-pipedrive"],
                               cwd=project_copy)
    try:
        refused = subprocess.run([sys.executable, "scripts/resume.py", "delta-migration"], cwd=project_copy,
                                 capture_output=True, text=True, timeout=60)
    finally:
        sleeper.kill()
        sleeper.wait()
    assert refused.returncode == 1 and "still running" in refused.stderr and str(sleeper.pid) in refused.stderr
