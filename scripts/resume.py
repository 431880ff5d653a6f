"""Resume a migration job after a crash: `bash scripts/resume.sh full-migration` (or delta-migration).

A job killed by SIGKILL, OOM or power loss leaves Meltano's run record "running" for about five
minutes, and `meltano run` refuses the job meanwhile ("Another ... pipeline is already running").
This checks that no process of this project's migration is alive, then runs the job with `--force`.
Forcing is safe: target-pipedrive holds an exclusive lock on its state directory while it loads (the
system releases it when a process dies), and its ledger makes the re-run write only what the killed
run did not (no duplicates, nothing missing).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
PIPELINE = ("tap-practicehub", "map-practicehub-pipedrive", "target-pipedrive")
JOBS = ("full-migration", "delta-migration", "sample-migration")


def migration_processes(root: Path) -> list[psutil.Process]:
    """Live processes of a pipeline started from `root` (the tap, mapper, target, or `meltano run`)."""
    found = []
    for process in psutil.process_iter(["pid", "cmdline", "cwd"]):
        try:
            if process.pid == os.getpid() or process.info["cwd"] != str(root):
                continue
            words = " ".join(process.info["cmdline"] or [])
            if any(name in words for name in PIPELINE) or ("meltano" in words and " run " in f" {words} "):
                found.append(process)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return found


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in JOBS:
        print(f"usage: bash scripts/resume.sh {{{'|'.join(JOBS)}}} [meltano run options]", file=sys.stderr)
        return 2
    alive = migration_processes(ROOT)
    if alive:
        pids = ", ".join(str(process.pid) for process in alive)
        print(f"A migration of this project is still running (process {pids}): wait for it to finish, or stop "
              "it, then run this again.", file=sys.stderr)
        return 1
    print(f"No migration process is alive: resuming {argv[0]} with `meltano run --force` (safe: the target's "
          "lock and ledger; see the README's 'State, resumability and scale').", file=sys.stderr)
    command = [str(BIN / "meltano"), "run", "--force", *argv]
    return subprocess.run(command, cwd=ROOT, check=False).returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
