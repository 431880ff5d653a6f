"""Fixtures that start the PracticeHub sandbox on 127.0.0.1.

``practicehub_sandbox_factory(dataset="tiny", ...)`` starts one (in this process, or as the real
``practicehub-sandbox`` command with ``subprocess=True``); ``practicehub_sandbox`` is a ready one with
the tiny dataset and a fast rate limit. Every sandbox started by a test is stopped at its teardown.
"""

from __future__ import annotations

import os
import select
import shutil
import subprocess as subprocesses
import sys
import time
from pathlib import Path

import pytest
from practicehub_sandbox.control import SandboxControl
from practicehub_sandbox.data import load_dataset
from practicehub_sandbox.runner import run_in_thread
from practicehub_sandbox.server import sandbox_of
from practicehub_sandbox.settings import SandboxSettings
from practicehub_sandbox.stats import key_fingerprint

READY_PREFIX = "practicehub-sandbox listening on "


def practicehub_sandbox_command() -> str:
    """The installed console script next to this interpreter (the .venv one), else the one on PATH."""
    beside = Path(sys.executable).parent / "practicehub-sandbox"
    found = str(beside) if beside.exists() else shutil.which("practicehub-sandbox")
    if not found:
        pytest.fail("practicehub-sandbox is not installed: run scripts/bootstrap.sh")
    return found


class PracticeHubSandbox:
    """A running sandbox: its URLs, keys, and the /_sandbox controls."""

    def __init__(self, base_url: str, api_keys: tuple[str, ...], stopper, in_process_app=None) -> None:
        self.base_url = base_url
        self.root_url = base_url.removesuffix("/api")
        self.api_keys = api_keys
        self.control = SandboxControl(self.root_url)
        self._stopper = stopper
        self._app = in_process_app
        self.stopped = False

    @property
    def headers(self) -> dict[str, str]:
        """Valid auth headers for the first key."""
        return {"x-practicehub-key": self.api_keys[0], "x-app-details": "pytest=tests@example.com"}

    @property
    def dataset(self) -> dict[str, list[dict]]:
        """The records served right now, by resource, in id order (files' url is filled in per response)."""
        if self._app is not None:
            return sandbox_of(self._app).store.dataset()
        return self.control.dataset()

    def stats(self) -> dict:
        return self.control.stats()

    @staticmethod
    def fingerprint(api_key: str) -> str:
        """How stats()["by_key"] and the request log name a key."""
        return key_fingerprint(api_key)

    def reset_stats(self) -> None:
        self.control.reset_stats()

    def configure(self, **settings) -> dict:
        return self.control.configure(**settings)

    def create_record(self, resource: str, fields: dict) -> dict:
        return self.control.create_record(resource, fields)

    def patch_record(self, resource: str, record_id: int, fields: dict) -> dict:
        return self.control.patch_record(resource, record_id, fields)

    def delete_record(self, resource: str, record_id: int) -> None:
        self.control.delete_record(resource, record_id)

    def stop(self) -> None:
        if not self.stopped:
            self.stopped = True
            self._stopper()


def _cli_args(dataset: str, settings: SandboxSettings) -> list[str]:
    args = [
        "--port", "0", "--dataset", dataset, "--api-keys", ",".join(settings.api_keys),
        "--rate", str(settings.rate), "--burst", str(settings.burst), "--rate-scope", settings.rate_scope,
        "--retry-after" if settings.retry_after else "--no-retry-after",
        "--unstable-paging", str(settings.unstable_paging), "--fault-5xx", str(settings.fault_5xx),
        "--fault-drop", str(settings.fault_drop), "--fault-slow", str(settings.fault_slow),
        "--slow-seconds", str(settings.slow_seconds), "--seed", str(settings.seed),
        "--url-ttl", str(settings.url_ttl), "--timezone", settings.timezone,
    ]
    if settings.app_name:
        args += ["--app-name", settings.app_name]
    return args


def _start_subprocess(dataset: str, settings: SandboxSettings, timeout: float = 60.0):
    process = subprocesses.Popen(
        [practicehub_sandbox_command(), *_cli_args(dataset, settings)],
        stdout=subprocesses.PIPE, stderr=subprocesses.PIPE, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([process.stdout], [], [], 0.2)
        if ready:
            line = process.stdout.readline()
            if line.startswith(READY_PREFIX):
                return process, line[len(READY_PREFIX):].strip()
        if process.poll() is not None:
            break
    process.kill()
    _, stderr = process.communicate(timeout=10)
    pytest.fail(f"practicehub-sandbox did not become ready: {stderr.strip()[-500:]}")


def _stop_subprocess(process: subprocesses.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocesses.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)
    for stream in (process.stdout, process.stderr):
        stream.close()


@pytest.fixture
def practicehub_sandbox_factory():
    """factory(dataset="tiny", api_keys=("test-key",), rate=200.0, burst=None (one second's worth), ...)."""
    started: list[PracticeHubSandbox] = []

    def factory(
        dataset: str | dict = "tiny",
        api_keys: tuple[str, ...] = ("test-key",),
        rate: float = 200.0,
        burst: int | None = None,
        rate_scope: str = "account",
        retry_after: bool = True,
        unstable_paging: float = 0.0,
        fault_5xx: float = 0.0,
        fault_drop: float = 0.0,
        fault_slow: float = 0.0,
        slow_seconds: float = 0.5,
        seed: int = 0,
        url_ttl: int = 900,
        timezone: str = "UTC",
        app_name: str | None = None,
        subprocess: bool = False,
    ) -> PracticeHubSandbox:
        settings = SandboxSettings(
            api_keys=tuple(api_keys), rate=rate, burst=burst if burst is not None else max(1, round(rate)),
            rate_scope=rate_scope, retry_after=retry_after, unstable_paging=unstable_paging,
            fault_5xx=fault_5xx, fault_drop=fault_drop, fault_slow=fault_slow, slow_seconds=slow_seconds,
            seed=seed, url_ttl=url_ttl, timezone=timezone, app_name=app_name,
        )
        if subprocess:
            if not isinstance(dataset, str):
                raise TypeError("subprocess=True needs a profile name or a .json path as dataset")
            process, base_url = _start_subprocess(dataset, settings)
            sandbox = PracticeHubSandbox(base_url, settings.api_keys, lambda: _stop_subprocess(process))
        else:
            records = load_dataset(dataset, seed) if isinstance(dataset, str) else dataset
            running = run_in_thread(records, settings)
            sandbox = PracticeHubSandbox(running.base_url, settings.api_keys, running.stop, running.app)
        started.append(sandbox)
        return sandbox

    yield factory
    for sandbox in started:
        sandbox.stop()


@pytest.fixture
def practicehub_sandbox(practicehub_sandbox_factory) -> PracticeHubSandbox:
    """A running sandbox with the tiny dataset, key "test-key" and a fast rate limit (200/s)."""
    return practicehub_sandbox_factory()
