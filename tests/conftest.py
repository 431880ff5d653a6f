"""The root suites (end-to-end, reliability, integration, fleet): the shared fixtures and a local PostgreSQL."""

pytest_plugins = [
    "testkit.pytest_plugin",
    "testkit.report_fixtures",
    "testkit.target_fixtures",
    "tests.fixtures_postgres",
]
