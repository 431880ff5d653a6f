"""Building the report: read the inputs, work out the summary, render the page, write both files.

    build_report(ReportInputs(state_dir, transform_reports, out))  →  (migration_report.html, .json)

REPORT.md specifies the inputs, the numbers and the page.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from migration_report import render, summary
from migration_report.inputs import HTML_NAME, JSON_NAME, ReportInputs, read_inputs

__all__ = ["HTML_NAME", "JSON_NAME", "ReportInputs", "build_report", "summarise"]


def summarise(inputs: ReportInputs) -> dict:
    """Every number the page shows, from the two folders only."""
    return summary.summarise(read_inputs(inputs), inputs.generated_at)


def build_report(inputs: ReportInputs) -> tuple[Path, Path]:
    """Write migration_report.html and migration_report.json into inputs.out; return both paths."""
    out = Path(inputs.out)
    out.mkdir(parents=True, exist_ok=True)
    found = summarise(ReportInputs(Path(inputs.state_dir), Path(inputs.transform_reports), out, inputs.generated_at))
    html_path, json_path = out / HTML_NAME, out / JSON_NAME
    _write(json_path, json.dumps(found, indent=2, ensure_ascii=False) + "\n")
    _write(html_path, render.render(found))
    return html_path, json_path


def _write(path: Path, text: str) -> None:
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(text, "utf-8")
    os.replace(temporary, path)
