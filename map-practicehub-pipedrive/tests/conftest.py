"""Fixtures for the mapper's tests: a confirmed default mapping and one mapped golden practice."""

from __future__ import annotations

import pytest
from testkit.mapper_run import base_config, run_mapper, singer_lines
from testkit.practice import practice

pytest_plugins = ["testkit.pytest_plugin"]


@pytest.fixture(scope="module")
def golden(tmp_path_factory):
    """The golden practice mapped once with PHI included (under a BAA) in Australia/Sydney time."""
    folder = tmp_path_factory.mktemp("golden")
    config = base_config(folder)
    output = run_mapper(config, singer_lines(practice()))
    output.reports = folder / "reports"
    return output
