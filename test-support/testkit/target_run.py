"""Run the real `target-pipedrive` command (in this process or as a command) against a Pipedrive sandbox."""

from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from target_pipedrive.target import run as run_target
from target_pipedrive.target import run_command

from testkit import REPO
from testkit.target_contract import build_practice, messages, write_singer

TARGET = [sys.executable, "-c", "from target_pipedrive.target import main; main()"]
ADMIN_EMAIL = "admin@sandbox-clinic.test"


@dataclass
class Run:
    returncode: int
    stdout: str
    stderr: str
    summary: dict


class TargetHarness:
    """One migration workspace: config, input files and state dir, against one sandbox."""

    def __init__(self, sandbox, workdir: Path, **config) -> None:
        self.sandbox = sandbox
        self.workdir = workdir
        self.state_dir = workdir / "state"
        self.config = {
            "api_token": sandbox.api_token,
            "base_url": sandbox.base_url,
            "fallback_owner_email": ADMIN_EMAIL,
            "state_dir": str(self.state_dir),
            "plan": "premium",
            "seats": 3,
            "max_concurrency": 4,
            "request_timeout": 10,
            "run_id": "run-1",
            **config,
        }

    def config_path(self, **overrides) -> Path:
        path = self.workdir / "config.json"
        path.write_text(json.dumps({**self.config, **overrides}), encoding="utf-8")
        return path

    def practice(self, **kwargs) -> dict:
        return build_practice(self.workdir / "files", ADMIN_EMAIL, **kwargs)

    def input_file(self, data: dict, name: str = "input.singer", **kwargs) -> Path:
        return write_singer(self.workdir / name, messages(data, **kwargs))

    def run(self, data_or_path, *, run_id: str = "run-1", in_process: bool = True, **overrides) -> Run:
        """Load messages with the real target: in this process (fast), or as the `target-pipedrive` command."""
        path = data_or_path if isinstance(data_or_path, Path) else self.input_file(data_or_path)
        config = self.config_path(run_id=run_id, **overrides)
        if in_process:
            stdout, stderr = io.StringIO(), io.StringIO()
            with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
                code = run_target(["--config", str(config), "--input", str(path)])
            return Run(code, stdout.getvalue(), stderr.getvalue(), self.summary())
        with open(path, encoding="utf-8") as stdin:
            proc = subprocess.run([*TARGET, "--config", str(config)], stdin=stdin, capture_output=True, text=True,
                                  timeout=120, env=target_env(), cwd=self.workdir)
        return Run(proc.returncode, proc.stdout, proc.stderr, self.summary())

    def command(self, *args: str, **overrides) -> subprocess.CompletedProcess:
        """`target-pipedrive preflight|verify|rollback ...`, run in this process (same code as the CLI)."""
        config = self.config_path(**overrides)
        argv = [args[0], "--config", str(config), *args[1:]]
        stdout, stderr = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
            code = run_command(argv)
        return subprocess.CompletedProcess(argv, code, stdout.getvalue(), stderr.getvalue())

    def summary(self) -> dict:
        path = self.state_dir / "summary.json"
        return json.loads(path.read_text()) if path.exists() else {}

    def writes(self, since: int = 0) -> list[dict]:
        """Sandbox log entries of API writes (sandbox-only routes excluded)."""
        return [
            e for e in self.sandbox.requests_log(since)
            if e["method"] != "GET" and "/_sandbox" not in e["path"]
        ]

    def log_mark(self) -> int:
        return len(self.sandbox.requests_log())


def target_env() -> dict:
    env = dict(os.environ)
    env.pop("TARGET_PIPEDRIVE_API_TOKEN", None)
    env["PYTHONPATH"] = str(REPO)
    return env


def live(snapshot: dict, entity: str) -> list[dict]:
    return [r for r in snapshot[entity] if not r.get("is_deleted")]


def by_custom(records: list[dict], key: str) -> dict:
    return {(r.get("custom_fields") or {}).get(key): r for r in records}
