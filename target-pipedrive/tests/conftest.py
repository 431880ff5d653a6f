"""Fixtures for the target's tests (test-support/testkit/target_fixtures.py; helpers in target_run.py)."""

pytest_plugins = ["testkit.pytest_plugin", "testkit.target_fixtures"]
