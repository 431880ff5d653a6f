"""Shared fixtures: each sandbox's fixtures live in their own module."""

pytest_plugins = [
    "tests.fixtures_practicehub",
    "tests.fixtures_pipedrive",
    "tests.fixtures_openapi",
    "tests.fixtures_postgres",
]
