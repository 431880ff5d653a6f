"""Target fixtures (target-pipedrive/tests and the root suites): an account in use, and a harness on it.
Load with `pytest_plugins = ["testkit.target_fixtures"]`."""

from __future__ import annotations

import pytest

from testkit.target_run import TargetHarness


@pytest.fixture
def sandbox(pipedrive_sandbox_factory):
    """An account in use (users, a pipeline, some persons), Premium limits at 50× speed."""
    return pipedrive_sandbox_factory(plan="premium", seats=3, fixture="in-use", time_scale=50.0)


@pytest.fixture
def harness(sandbox, tmp_path) -> TargetHarness:
    return TargetHarness(sandbox, tmp_path)
