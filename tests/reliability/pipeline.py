"""Run the real pipeline as three processes joined by pipes, and kill one of them on purpose.

`tap-practicehub --config tap.json --state state.json | map-practicehub-pipedrive --config map.json
| target-pipedrive --config target.json`: no shell, stdout wired to stdin. The last STATE the target
emits (only once its ledger holds the writes) is saved to `state.json` for the next run.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

BIN = Path(sys.executable).parent
STAGES = ("tap", "mapper", "target")
COMMANDS = {
    "tap": str(BIN / "tap-practicehub"),
    "mapper": str(BIN / "map-practicehub-pipedrive"),
    "target": str(BIN / "target-pipedrive"),
}
ADMIN_EMAIL = "admin@sandbox-clinic.test"  # the Pipedrive sandbox's first user
SPEC_DIR = Path(__file__).resolve().parents[3] / "shared" / "pipedrive"
# Environment variables that would override the JSON configs under test.
OVERRIDING_ENV = ("TARGET_PIPEDRIVE_", "TAP_PRACTICEHUB_", "MAP_PRACTICEHUB_PIPEDRIVE_", "PRACTICEHUB_")


@dataclass(frozen=True)
class Kill:
    """SIGKILL `stage` after `after_lines` lines (the tap's and mapper's output, the target's input),
    then `after_seconds` more; with no line count, `after_seconds` after the start."""

    stage: str
    after_lines: int | None = None
    after_seconds: float = 0.0

    @classmethod
    def pick(cls, rng: random.Random, stage: str, max_lines: int, max_seconds: float) -> Kill:
        """A kill point chosen by the seeded `rng`."""
        return cls(stage, after_lines=rng.randint(1, max_lines), after_seconds=round(rng.uniform(0, max_seconds), 2))

    def __str__(self) -> str:
        return f"kill {self.stage} after {self.after_lines} lines + {self.after_seconds}s"


@dataclass
class RunResult:
    returncodes: dict[str, int]
    stderr: dict[str, str]
    state: dict | None  # the last STATE the target emitted in this run
    killed: bool  # the planned kill really happened (the victim was still running)
    seconds: float
    logs: list[Path] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(code == 0 for code in self.returncodes.values())

    def describe(self) -> str:
        tails = {stage: text.strip().splitlines()[-3:] for stage, text in self.stderr.items()}
        return f"exit codes {self.returncodes}; stderr tails {tails}"


class Workspace:
    """One migration: configs, the tap's state file and the stages' output folders under `root`."""

    def __init__(self, root: Path, practicehub, pipedrive, mapping_file: Path, *, tap: dict | None = None,
                 mapper: dict | None = None, target: dict | None = None) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        self.practicehub = practicehub
        self.pipedrive = pipedrive
        self.state_file = root / "state.json"
        self.target_state_dir = root / "target-state"
        self.mapper_reports = root / "mapper-reports"
        self.logs_dir = root / "logs"
        self.logs_dir.mkdir(exist_ok=True)
        self.runs = 0
        self.tap_config = {
            "base_url": practicehub.base_url,
            "api_keys": list(practicehub.api_keys),
            "app_details": "reliability-tests=tests@example.com",
            "requests_per_second": 200.0,
            "retry_base_seconds": 0.05,
            "request_timeout": 5,
            "download_files": True,
            "files_dir": str(root / "files"),
            **(tap or {}),
        }
        self.mapper_config = {
            "mapping_file": str(mapping_file),
            "phi_policy": "include",
            "baa_reference": "BAA-TEST-0001",
            "reports_dir": str(self.mapper_reports),
            "state_dir": str(root / "mapper-state"),
            **(mapper or {}),
        }
        self.target_config = {
            "api_token": pipedrive.api_token,
            "base_url": pipedrive.base_url,
            "fallback_owner_email": ADMIN_EMAIL,
            "state_dir": str(self.target_state_dir),
            "plan": "premium",
            "seats": 3,
            "max_concurrency": 4,
            "request_timeout": 5,
            **({"openapi_dir": str(SPEC_DIR)} if SPEC_DIR.is_dir() else {}),
            **(target or {}),
        }
        self.write_configs()

    def write_configs(self) -> None:
        for name, config in (("tap", self.tap_config), ("map", self.mapper_config), ("target", self.target_config)):
            (self.root / f"{name}.json").write_text(json.dumps(config), encoding="utf-8")

    def argv(self, stage: str) -> list[str]:
        if stage == "tap":
            extra = ["--state", str(self.state_file)] if self.state_file.exists() else []
            return [COMMANDS["tap"], "--config", str(self.root / "tap.json"), *extra]
        if stage == "mapper":
            return [COMMANDS["mapper"], "--config", str(self.root / "map.json")]
        return [COMMANDS["target"], "--config", str(self.root / "target.json")]

    def run(self, kill: Kill | None = None, *, run_id: str | None = None, timeout: float = 180.0) -> RunResult:
        """One pipeline run; `kill` SIGKILLs one stage on purpose. Raises on a hang past `timeout`."""
        self.runs += 1
        self.target_config["run_id"] = run_id or f"run-{self.runs}"
        self.write_configs()
        return _run_pipeline(self, kill, timeout)

    def source_check(self) -> tuple[RunResult, dict]:
        """The reconcile pass (`meltano run reconcile`): the tap from scratch (no bookmark), the mapper reading
        its state read-only, the target comparing with Pipedrive; returns the run and reconcile.json."""
        saved = self.root / "state.saved.json"
        if self.state_file.exists():
            shutil.move(self.state_file, saved)
        self.mapper_config.update(reconcile=True, reports_dir=str(self.root / "reconcile-reports"))
        self.target_config.update(reconcile=True, run_id="reconcile")
        self.write_configs()
        try:
            result = _run_pipeline(self, None, 300.0)  # not a migration run: the run numbers stay as they are
        finally:
            self.mapper_config.pop("reconcile")
            self.mapper_config["reports_dir"] = str(self.mapper_reports)
            self.target_config.pop("reconcile")
            self.write_configs()
            if saved.exists():
                shutil.move(saved, self.state_file)
        return result, json.loads((self.target_state_dir / "reconcile.json").read_text())

    def target_command(self, *args: str, timeout: float = 120.0) -> subprocess.CompletedProcess:
        """`target-pipedrive verify|rollback|preflight --config target.json ...` as the real command."""
        argv = [COMMANDS["target"], args[0], "--config", str(self.root / "target.json"), *args[1:]]
        completed = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, cwd=self.root,
                                   env=clean_env())
        log = self.logs_dir / f"command-{args[0]}-{len(list(self.logs_dir.iterdir()))}.err"
        log.write_text(completed.stderr, encoding="utf-8")
        return completed

    def log_files(self) -> list[Path]:
        return sorted(self.logs_dir.iterdir())


def clean_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(OVERRIDING_ENV)}
    env["PYTHONUNBUFFERED"] = "1"
    return env


class _Relay(threading.Thread):
    """Copies a stage's stdout line by line to the next stage (or to a list), counting lines.

    Only the pipe whose lines a kill counts (and the target's stdout, whose STATE lines we keep) goes
    through a relay; the other pipes join the processes directly.
    """

    def __init__(self, source: IO[bytes], sink: IO[bytes] | None, kill_after: int | None = None,
                 on_count=None) -> None:
        super().__init__(daemon=True)
        self.source, self.sink = source, sink
        self.kill_after, self.on_count = kill_after, on_count
        self.lines: list[bytes] = []

    def run(self) -> None:
        count = 0
        try:
            for line in self.source:
                count += 1
                if self.sink is None:
                    self.lines.append(line)
                else:
                    try:
                        self.sink.write(line)
                        self.sink.flush()
                    except (BrokenPipeError, ValueError):
                        break
                if self.kill_after is not None and count == self.kill_after:
                    self.on_count()
        finally:
            # Close both ends, as a dead process in a shell pipeline would: the writer then gets
            # SIGPIPE instead of blocking on a full pipe nobody reads.
            for stream in (self.sink, self.source):
                if stream is not None:
                    try:
                        stream.close()
                    except OSError:
                        pass


def _kill(process: subprocess.Popen, fired: threading.Event) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGKILL)
        fired.set()


def _run_pipeline(ws: Workspace, kill: Kill | None, timeout: float) -> RunResult:
    started = time.monotonic()
    env = clean_env()
    logs = {stage: ws.logs_dir / f"run-{ws.runs}-{stage}.err" for stage in STAGES}
    handles = {stage: open(path, "wb") for stage, path in logs.items()}  # closed in the finally below
    fired = threading.Event()
    timers: list[threading.Timer] = []
    procs: dict[str, subprocess.Popen] = {}

    def arm(delay: float) -> None:
        timer = threading.Timer(delay, _kill, (procs[kill.stage], fired))
        timers.append(timer)
        timer.start()

    # The pipe a line-count kill watches: the victim's output, or for the target its input.
    counted = None
    if kill and kill.after_lines is not None:
        counted = ("mapper", "target") if kill.stage == "target" else (kill.stage, STAGES[STAGES.index(kill.stage) + 1])
    relays: list[_Relay] = []
    try:
        for index, stage in enumerate(STAGES):
            previous = STAGES[index - 1] if index else None
            relayed = previous is not None and counted == (previous, stage)
            if previous is None:
                stdin = subprocess.DEVNULL
            else:
                stdin = subprocess.PIPE if relayed else procs[previous].stdout
            procs[stage] = subprocess.Popen(ws.argv(stage), stdin=stdin, stdout=subprocess.PIPE,
                                            stderr=handles[stage], cwd=ws.root, env=env)
            if relayed:
                relays.append(_Relay(procs[previous].stdout, procs[stage].stdin, kill.after_lines,
                                     lambda: arm(kill.after_seconds)))
            elif previous is not None:
                procs[previous].stdout.close()  # the child holds it now: a dead reader gives the writer SIGPIPE
        target_out = _Relay(procs["target"].stdout, None)
        relays.append(target_out)
        for relay in relays:
            relay.start()
        if kill and kill.after_lines is None:
            arm(kill.after_seconds)
        deadline = started + timeout
        for stage in STAGES:
            try:
                procs[stage].wait(timeout=max(deadline - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                raise AssertionError(f"pipeline hung for {timeout}s (stage {stage} still running)") from None
        for relay in relays:
            relay.join(timeout=10)
    finally:
        for timer in timers:
            timer.cancel()
        for handle in handles.values():
            handle.close()
        for proc in procs.values():
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    state = _last_state(target_out.lines)
    if state is not None:
        tmp = ws.state_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(state), encoding="utf-8")
        os.replace(tmp, ws.state_file)
    return RunResult(
        returncodes={stage: proc.returncode for stage, proc in procs.items()},
        stderr={stage: path.read_text(encoding="utf-8", errors="replace") for stage, path in logs.items()},
        state=state,
        # A SIGKILL sent as the victim was exiting on its own is no kill: it ended with its own code.
        killed=fired.is_set() and kill is not None and procs[kill.stage].returncode == -signal.SIGKILL,
        seconds=round(time.monotonic() - started, 2),
        logs=list(logs.values()),
    )


def _last_state(lines: list[bytes]) -> dict | None:
    """The target writes each STATE value as one JSON line; a killed target may leave half a line."""
    for line in reversed(lines):
        try:
            value = json.loads(line)
        except ValueError:
            continue
        if isinstance(value, dict) and "bookmarks" in value:
            return value
        if isinstance(value, dict) and value.get("type") == "STATE":
            return value["value"]
    return None
