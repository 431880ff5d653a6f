"""End to end with Meltano: `meltano run tap-practicehub target-jsonl` against the sandbox."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from testkit.tap_run import STREAM_ORDER

ROOT = Path(__file__).resolve().parents[2]
MELTANO = str(Path(sys.executable).parent / "meltano")


def _pypi_reachable() -> bool:
    try:
        socket.create_connection(("pypi.org", 443), timeout=5).close()
        return True
    except OSError:
        return False


@pytest.mark.slow
def test_meltano_run_with_target_jsonl(practicehub_sandbox, tmp_path):
    if not _pypi_reachable():
        pytest.skip("target-jsonl is installed from PyPI, which is unreachable from here")
    project = tmp_path / "project"
    project.mkdir()
    # The project's own meltano.yml, minus the tap's pip_url: Meltano then runs the tap-practicehub this
    # .venv already has (from PATH) instead of building a venv for it, which keeps the test fast.
    text = (ROOT / "meltano.yml").read_text()
    assert "      pip_url: -e ./tap-practicehub\n" in text
    (project / "meltano.yml").write_text(text.replace("      pip_url: -e ./tap-practicehub\n", ""))
    env = {
        **os.environ,
        "XDG_CACHE_HOME": str(tmp_path / "cache"), "XDG_STATE_HOME": str(tmp_path / "state"),
        "UV_CACHE_DIR": str(tmp_path / "uv"), "TMPDIR": str(tmp_path),
        "MELTANO_SEND_ANONYMOUS_USAGE_STATS": "false", "MELTANO_CLI_DISABLE_VERSION_CHECK": "1",
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "PRACTICEHUB_BASE_URL": practicehub_sandbox.base_url,
        "PRACTICEHUB_API_KEYS": f'["{practicehub_sandbox.api_keys[0]}"]',
        "PRACTICEHUB_APP_DETAILS": "meltano-test=tests@example.com",
    }
    for command in ([MELTANO, "install", "loader", "target-jsonl"], [MELTANO, "run", "tap-practicehub", "target-jsonl"]):
        done = subprocess.run(command, cwd=project, env=env, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr[-3000:]
        assert practicehub_sandbox.api_keys[0] not in done.stdout + done.stderr
    output = project / "output" / "jsonl"
    for stream in STREAM_ORDER:
        lines = (output / f"{stream}.jsonl").read_text().splitlines()
        assert len(lines) == len(practicehub_sandbox.dataset[stream]), stream
    state = subprocess.run([MELTANO, "state", "get", "dev:tap-practicehub-to-target-jsonl"], cwd=project, env=env,
                           capture_output=True, text=True, timeout=60)
    assert state.returncode == 0, state.stderr[-2000:]
    assert '"replication_key":"updated"' in state.stdout.replace(' ', '')
