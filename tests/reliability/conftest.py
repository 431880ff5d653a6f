"""Fixtures for the reliability suite: one confirmed mapping per session, workspaces, a clean baseline run."""

from __future__ import annotations

import json
import secrets
import subprocess
from pathlib import Path

import pytest

pytest.register_assert_rewrite("tests.reliability.checks", "tests.reliability.pipeline")

from practicehub_sandbox.data import load_dataset  # noqa: E402
from practicehub_sandbox.runner import run_in_thread  # noqa: E402
from practicehub_sandbox.settings import SandboxSettings  # noqa: E402
from testkit.pipedrive_fixtures import PipedriveSandbox, default_user_emails  # noqa: E402
from testkit.practicehub_fixtures import PracticeHubSandbox  # noqa: E402

from tests.reliability.pipeline import COMMANDS, Workspace, clean_env  # noqa: E402

PRACTICEHUB_KEY_PREFIX = "ph-key-"


def start_practicehub(dataset: str | dict = "tiny", **settings) -> PracticeHubSandbox:
    """A PracticeHub sandbox in this process, for session-scoped fixtures (the factory is per test)."""
    keys = settings.pop("api_keys", (PRACTICEHUB_KEY_PREFIX + secrets.token_hex(8),))
    rate = settings.pop("rate", 200.0)
    config = SandboxSettings(api_keys=tuple(keys), rate=rate, burst=max(1, round(rate)), **settings)
    records = load_dataset(dataset, 0) if isinstance(dataset, str) else dataset
    running = run_in_thread(records, config)
    return PracticeHubSandbox(running.base_url, config.api_keys, running.stop, running.app)


def start_pipedrive(db: Path, **options) -> PipedriveSandbox:
    """A Pipedrive sandbox account in use, Premium, 50x speed, for session-scoped fixtures."""
    tokens = {email: "pd-user-" + secrets.token_hex(8) for email in default_user_emails()[1:]}
    merged = {"plan": "premium", "seats": 3, "fixture": "in-use", "time_scale": 50.0, "seed": 0,
              "daily_budget": None, "users": 3, "fault_5xx": 0.0, "fault_429": 0.0, "fault_drop": 0.0,
              "fault_stall": 0.0, "stall_seconds": 5.0, **options}
    return PipedriveSandbox(str(db), "pd-admin-" + secrets.token_hex(8), tokens, merged, False)


@pytest.fixture(scope="session")
def confirmed_mapping(tmp_path_factory) -> Path:
    """The mapping proposed from the tiny practice's catalog and a sample of its records, then confirmed."""
    folder = tmp_path_factory.mktemp("mapping")
    sandbox = start_practicehub("tiny")
    try:
        ws_config = folder / "tap.json"
        ws_config.write_text(json.dumps({"base_url": sandbox.base_url, "api_keys": list(sandbox.api_keys),
                                         "app_details": "reliability=tests@example.com",
                                         "requests_per_second": 200.0}), encoding="utf-8")
        env = clean_env()
        catalog = folder / "catalog.json"
        sample = folder / "sample.singer"
        with open(catalog, "w") as out:
            subprocess.run([COMMANDS["tap"], "--config", str(ws_config), "--discover"], stdout=out,
                           stderr=subprocess.DEVNULL, check=True, env=env, timeout=120)
        with open(sample, "w") as out:
            subprocess.run([COMMANDS["tap"], "--config", str(ws_config), "--catalog", str(catalog)], stdout=out,
                           stderr=subprocess.DEVNULL, check=True, env=env, timeout=120)
    finally:
        sandbox.stop()
    mapping = folder / "mapping.yml"
    for args in (["propose", "--catalog", str(catalog), "--sample", str(sample), "--out", str(mapping)],
                 ["confirm", "--mapping", str(mapping), "--by", "reliability-suite"]):
        subprocess.run([COMMANDS["mapper"], *args], check=True, capture_output=True, env=env, timeout=120)
    return mapping


@pytest.fixture
def workspace_factory(tmp_path, confirmed_mapping):
    """factory(practicehub, pipedrive, name="ws", tap={...}, mapper={...}, target={...}) -> Workspace."""

    def factory(practicehub, pipedrive, name: str = "ws", **configs) -> Workspace:
        return Workspace(tmp_path / name, practicehub, pipedrive, confirmed_mapping, **configs)

    return factory


class Baseline:
    """A clean run of the tiny practice: what every faulted or crashed run must end up equal to."""

    def __init__(self, workspace: Workspace, result, before: dict, after: dict) -> None:
        self.workspace = workspace
        self.result = result
        self.before = before
        self.after = after


@pytest.fixture(scope="session")
def baseline(tmp_path_factory, confirmed_mapping) -> Baseline:
    """The tiny practice migrated once without faults (kept for the secrets scan and as the reference)."""
    root = tmp_path_factory.mktemp("baseline")
    practicehub = start_practicehub("tiny")
    pipedrive = start_pipedrive(root / "pipedrive.sqlite3")
    try:
        workspace = Workspace(root / "ws", practicehub, pipedrive, confirmed_mapping)
        before = pipedrive.snapshot()
        result = workspace.run()
        assert result.ok, result.describe()
        verify = workspace.target_command("verify")
        assert verify.returncode == 0, verify.stderr[-2000:]
        yield Baseline(workspace, result, before, pipedrive.snapshot())
    finally:
        practicehub.stop()
        pipedrive.stop()
