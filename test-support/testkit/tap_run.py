"""Run the real tap-practicehub command against a PracticeHub sandbox and read what it emits."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

TAP = str(Path(sys.executable).parent / "tap-practicehub")

# The order the downstream mapper relies on (see the tap's streams.py).
STREAM_ORDER = [
    "locations", "patient_custom_fields", "users", "practitioners", "appointment_types", "patients",
    "appointments", "clinical_notes", "files", "reminders", "workflows", "invoices", "payments",
    "payment_methods", "patient_packages", "care_plans", "patient_logs", "custom_form_responses",
]


def tap_config(sandbox, **overrides) -> dict:
    """A config pointing at a sandbox, fast enough for tests (overrides win)."""
    config = {
        "base_url": sandbox.base_url,
        "api_keys": list(sandbox.api_keys),
        "app_details": "tap-tests=tests@example.com",
        "requests_per_second": 200.0,
        "retry_base_seconds": 0.05,
    }
    config.update(overrides)
    return config


@dataclass
class TapRun:
    returncode: int
    stderr: str
    messages: list[dict] = field(default_factory=list)

    @property
    def records(self) -> dict[str, list[dict]]:
        by_stream: dict[str, list[dict]] = defaultdict(list)
        for message in self.messages:
            if message["type"] == "RECORD":
                by_stream[message["stream"]].append(message["record"])
        return by_stream

    @property
    def states(self) -> list[dict]:
        return [message["value"] for message in self.messages if message["type"] == "STATE"]

    @property
    def schema_order(self) -> list[str]:
        return [message["stream"] for message in self.messages if message["type"] == "SCHEMA"]


def parse_messages(stdout: str) -> list[dict]:
    return [json.loads(line) for line in stdout.splitlines() if line.strip()]


def write_json(path: Path, value: dict) -> Path:
    path.write_text(json.dumps(value))
    return path


def run_tap(tmp_path: Path, config: dict, *, state: dict | None = None, args: tuple[str, ...] = (),
            timeout: float = 120, name: str = "run") -> TapRun:
    """Run the installed tap-practicehub command; its stdout is parsed into Singer messages."""
    command = [TAP, "--config", str(write_json(tmp_path / f"{name}-config.json", config)), *args]
    if state is not None:
        command += ["--state", str(write_json(tmp_path / f"{name}-state.json", state))]
    completed = subprocess.run(command, capture_output=True, text=True, timeout=timeout, cwd=tmp_path,
                               env={**os.environ, "PYTHONUNBUFFERED": "1"})
    return TapRun(completed.returncode, completed.stderr, parse_messages(completed.stdout))


def ids(records: list[dict]) -> list[int]:
    return [record["id"] for record in records]
