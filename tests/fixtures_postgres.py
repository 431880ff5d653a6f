"""A throwaway PostgreSQL server on 127.0.0.1, for Meltano's system database."""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

import pytest


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _postgres_bin() -> Path | None:
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(candidates[-1]).parent if candidates else None


@pytest.fixture(scope="session")
def postgres_uri():
    """SQLAlchemy URI of a fresh database on a private PostgreSQL server (skips if none can start)."""
    bindir = _postgres_bin()
    if bindir is None:
        pytest.skip("PostgreSQL server binaries not installed (scripts/system-packages.sh installs them as root)")
    run_as: list[str] = []
    workdir = Path(tempfile.mkdtemp(prefix="pg-meltano-"))
    if os.geteuid() == 0:
        # initdb refuses to run as root: run the server as the postgres system user.
        if shutil.which("runuser") is None:
            pytest.skip("running as root without runuser: cannot start PostgreSQL as an unprivileged user")
        run_as = ["runuser", "-u", "postgres", "--"]
        shutil.chown(workdir, user="postgres")
    data, port = workdir / "data", _free_port()

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([*run_as, *args], capture_output=True, text=True, timeout=120, check=False)

    init = run(str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8")
    if init.returncode != 0:
        pytest.skip(f"initdb failed: {init.stderr.strip()[-300:]}")
    options = f"-c listen_addresses=127.0.0.1 -p {port} -k {workdir}"
    start = run(str(bindir / "pg_ctl"), "-D", str(data), "-o", options, "-l", str(workdir / "log"), "-w", "start")
    if start.returncode != 0:
        pytest.skip(f"PostgreSQL did not start: {start.stderr.strip()[-300:]}")
    try:
        created = run(str(bindir / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", "meltano")
        assert created.returncode == 0, created.stderr
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/meltano"
    finally:
        run(str(bindir / "pg_ctl"), "-D", str(data), "-m", "fast", "stop")
        shutil.rmtree(workdir, ignore_errors=True)
