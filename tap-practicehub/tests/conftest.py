"""Fixtures for the tap's tests (helpers in test-support/testkit/tap_run.py)."""

from __future__ import annotations

import pytest
from testkit.tap_run import TapRun, run_tap

pytest_plugins = ["testkit.pytest_plugin"]


@pytest.fixture
def tap_runner(tmp_path):
    def runner(config: dict, **kwargs) -> TapRun:
        return run_tap(tmp_path, config, **kwargs)

    return runner
