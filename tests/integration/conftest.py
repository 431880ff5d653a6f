"""Tests across plugins: a Pipedrive account in use (the report's fixtures come from the root conftest)."""

import pytest


@pytest.fixture
def sandbox(pipedrive_sandbox_factory):
    """An account in use (users, a pipeline, some persons), Premium limits at 50× speed (as the target's tests)."""
    return pipedrive_sandbox_factory(plan="premium", seats=3, fixture="in-use", time_scale=50.0)
