"""The command line: `migration-report` (also `python -m migration_report`), run by
`meltano invoke target-pipedrive:report`.

Exit status: 0 when the report was written and everything reconciles, 1 when it was written but something
does not, 2 for a usage error (a folder that does not exist yet).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from target_pipedrive.privacy import private_outputs

from migration_report.build import ReportInputs, build_report

PROG = "target-pipedrive report"  # what users type: `meltano invoke target-pipedrive:report`


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog=PROG, description="Write the HTML migration report and its JSON summary."
    )
    parser.add_argument("--state-dir", required=True, type=Path, help="the target's state directory")
    parser.add_argument("--transform-reports", required=True, type=Path, help="the mapper's reports_dir")
    parser.add_argument("--out", required=True, type=Path, help="where to write the report")
    args = parser.parse_args(argv)
    for folder in (args.state_dir, args.transform_reports):
        if not folder.is_dir():
            print(f"{PROG}: {folder} does not exist yet; a migration run writes it"
                  " (`meltano run sample-migration` or `meltano run full-migration`)", file=sys.stderr)
            return 2
    html_path, json_path = build_report(ReportInputs(args.state_dir, args.transform_reports, args.out))
    summary = json.loads(json_path.read_text("utf-8"))
    verdict = (
        "reconciles" if summary["reconciled"] else "does NOT reconcile (see the red rows and input problems)"
    )
    print(f"wrote {html_path} and {json_path}: the migration {verdict}")
    for problem in summary["input_problems"]:
        print(f"input problem: {problem}", file=sys.stderr)
    return 0 if summary["reconciled"] else 1


def run() -> None:
    """The console entry point: owner-only files (the report names patients' ids), then `main`."""
    private_outputs()
    sys.exit(main())
