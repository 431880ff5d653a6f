"""Report fixtures (report/tests and tests/integration): a consistent set of report inputs, and a builder that
writes them and the report. Load with `pytest_plugins = ["testkit.report_fixtures"]`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from testkit.report_inputs import balanced_inputs, write_inputs
from testkit.report_page import read_page


@pytest.fixture
def report_inputs() -> dict:
    return balanced_inputs()


@pytest.fixture
def make_report(tmp_path: Path):
    """Write `inputs` under tmp_path, build the report; return (page, summary, html_path, json_path)."""

    def make(inputs: dict):
        # Imported here: the root suites load these fixtures also where the report is not installed (Python 3.13).
        from migration_report.build import ReportInputs, build_report

        state_dir, transform_reports = write_inputs(tmp_path, inputs)
        html_path, json_path = build_report(ReportInputs(state_dir, transform_reports, tmp_path / "report",
                                                         generated_at="2025-11-25T09:00:00+00:00"))
        return read_page(html_path), json.loads(json_path.read_text("utf-8")), html_path, json_path

    return make
