"""A throwaway PostgreSQL server on 127.0.0.1, for Meltano's system database (tests and the fleet demo).

`with local_postgres() as uri:` starts a private server in a temporary folder (as the `postgres` system
user when run as root: initdb refuses root), creates the `meltano` database, and yields its SQLAlchemy
URI; the server and its folder go away on exit. `PostgresUnavailable` says why none could start.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path


class PostgresUnavailable(Exception):
    """No PostgreSQL server can be started here; the message says why (one line)."""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def postgres_bin() -> Path | None:
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(candidates[-1]).parent if candidates else None


@contextlib.contextmanager
def local_postgres(database: str = "meltano") -> Iterator[str]:
    bindir = postgres_bin()
    if bindir is None:
        raise PostgresUnavailable("PostgreSQL server binaries not installed (scripts/system-packages.sh installs "
                                  "them as root)")
    run_as: list[str] = []
    workdir = Path(tempfile.mkdtemp(prefix="pg-meltano-"))
    try:
        if os.geteuid() == 0:
            if shutil.which("runuser") is None:
                raise PostgresUnavailable("running as root without runuser: cannot start PostgreSQL as an "
                                          "unprivileged user")
            run_as = ["runuser", "-u", "postgres", "--"]
            shutil.chown(workdir, user="postgres")
        data, port = workdir / "data", _free_port()

        def run(*args: str) -> subprocess.CompletedProcess:
            return subprocess.run([*run_as, *args], capture_output=True, text=True, timeout=120, check=False)

        init = run(str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8")
        if init.returncode != 0:
            raise PostgresUnavailable(f"initdb failed: {init.stderr.strip()[-300:]}")
        options = f"-c listen_addresses=127.0.0.1 -p {port} -k {workdir}"
        start = run(str(bindir / "pg_ctl"), "-D", str(data), "-o", options, "-l", str(workdir / "log"), "-w", "start")
        if start.returncode != 0:
            raise PostgresUnavailable(f"PostgreSQL did not start: {start.stderr.strip()[-300:]}")
        try:
            created = run(str(bindir / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", database)
            if created.returncode != 0:
                raise PostgresUnavailable(f"createdb failed: {created.stderr.strip()[-300:]}")
            yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/{database}"
        finally:
            run(str(bindir / "pg_ctl"), "-D", str(data), "-m", "fast", "stop")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
