"""Fixtures for the report's tests (in test-support/testkit/report_fixtures.py)."""

pytest_plugins = ["testkit.pytest_plugin", "testkit.report_fixtures"]
