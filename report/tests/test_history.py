"""The whole migration: every run from its own summary file, and the totals from the ledger, not one run."""

from __future__ import annotations

import json
import os
from collections import Counter
from pathlib import Path

from migration_report.build import ReportInputs, build_report
from target_pipedrive.ledger import Ledger
from testkit.report_inputs import EARLIER_RUN, LATEST_RUN, START, write_inputs

RUN_KEYS = ("received", "created", "updated", "unchanged", "skipped")
API_KEYS = ("calls", "status_429", "tokens")
MIGRATION_KEYS = ("created", "updated", "adopted", "rolled_back", "skipped")


def run_summaries(inputs: dict) -> dict[str, dict]:
    state = inputs["state"]
    return {
        name.removeprefix("summary-").removesuffix(".json"): data
        for name, data in state.items()
        if name.startswith("summary-")
    }


def test_runs_table_equals_each_run_summary_in_time_order_with_the_latest_marked(make_report, report_inputs):
    # A run whose id sorts last but which started between the two others: time decides the order.
    report_inputs["state"]["summary-zz-manual.json"] = {
        "run_id": "zz-manual",
        "status": "budget_exhausted",
        "started_at": "2025-11-24T12:00:00Z",
        "streams": {"notes": {"received": 7, "created": 2, "updated": 1, "unchanged": 3, "skipped": 1}},
        "api": {"calls": 9, "tokens": 45, "status_429": 1},
    }
    report_inputs["state"]["ledger.sqlite"] += [
        {
            "stream": "notes",
            "source_id": f"clinical_notes:{n}",
            "pipedrive_id": 70 + n,
            "origin": "created",
            "run_id": "zz-manual",
            "created_in": "zz-manual",
        }
        for n in range(2)
    ]
    report_inputs["state"]["manifest.jsonl"] += [
        {"op": "create", "type": "notes", "id": 70 + n, "run_id": "zz-manual"} for n in range(2)
    ]
    page, summary, html_path, _ = make_report(report_inputs)

    assert [run["run_id"] for run in summary["runs"]] == [EARLIER_RUN, "zz-manual", LATEST_RUN]
    assert [run["latest"] for run in summary["runs"]] == [False, False, True]
    assert summary["runs"][0]["started_at"] == "2025-11-24T07:00:00Z"
    assert summary["runs"][1]["status"] == "budget_exhausted"
    for run_id, run_summary in run_summaries(report_inputs).items():
        row = next(run for run in summary["runs"] if run["run_id"] == run_id)
        for key in RUN_KEYS:
            expected = sum(counts.get(key, 0) for counts in run_summary["streams"].values())
            assert row[key] == page.number(f"runs.{run_id}.{key}") == expected, (run_id, key)
        for key in API_KEYS:
            assert row[key] == page.number(f"runs.{run_id}.{key}") == run_summary["api"][key], (run_id, key)
    assert page.number("runs.count") == 3
    source = html_path.read_text("utf-8")
    assert source.count('<tr class="latest">') == 1 and "(latest)" in source
    assert f"Latest run ({LATEST_RUN})" in "".join(page.text)
    assert summary["input_problems"] == []


def test_migration_totals_equal_the_ledger_and_count_a_created_then_updated_entity_once(
    make_report, report_inputs
):
    page, summary, _, _ = make_report(report_inputs)
    ledger = report_inputs["state"]["ledger.sqlite"]
    created = Counter(row["stream"] for row in ledger if row["origin"] == "created")
    adopted = Counter(row["stream"] for row in ledger if row["origin"] == "preexisting")
    updated_later = Counter(
        row["stream"] for row in ledger if row["origin"] == "created" and row["run_id"] != row["created_in"]
    )
    streams = {row["stream"]: row for row in summary["migration"]["streams"]}
    for stream in ("organizations", "persons", "deals"):
        assert streams[stream]["created"] == page.number(f"migration.{stream}.created") == created[stream]
        assert streams[stream]["adopted"] == page.number(f"migration.{stream}.adopted") == adopted[stream]
        assert (
            streams[stream]["updated"]
            == page.number(f"migration.{stream}.updated")
            == (updated_later[stream] + adopted[stream])
        )
        assert streams[stream]["in_pipedrive"] == created[stream] + adopted[stream]
    # 4 persons created by the sample and updated by the latest run: created once, updated once.
    assert streams["persons"]["created"] == 106 and streams["persons"]["updated_after_create"] == 4
    assert page.number("migration.created") == sum(created.values()) == 403
    # Every create of every run is still live: the runs' created columns add up to the ledger's.
    assert sum(run["created"] for run in summary["runs"]) == summary["migration"]["totals"]["created"]
    # Skips over both runs, each source id once: 9 by the mapper, 4 by the target.
    assert {stream: row["skipped"] for stream, row in streams.items() if row["skipped"]} == {
        "patients": 4,
        "appointments": 5,
        "persons": 2,
        "deals": 2,
    }
    assert page.number("migration.skipped") == 13


def test_what_a_rollback_undid_is_not_live(make_report, report_inputs):
    state = report_inputs["state"]
    # `rollback --run EARLIER_RUN` deleted its 6 persons and 4 deals (Ledger.forget drops their rows) ...
    undone = [row for row in state["ledger.sqlite"] if row["created_in"] == EARLIER_RUN]
    state["ledger.sqlite"] = [row for row in state["ledger.sqlite"] if row not in undone]
    progress = [
        {"action": "delete", "type": row["stream"], "id": row["pipedrive_id"], "at": None} for row in undone
    ]
    # ... and a rollback restored one adopted person's prior values (its ledger row stays).
    progress.append({"action": "restore", "type": "persons", "id": 50, "at": START})
    state["rollback_progress.jsonl"] = progress + progress[:1]  # a repeated rollback logs nothing new twice
    page, summary, _, _ = make_report(report_inputs)
    streams = {row["stream"]: row for row in summary["migration"]["streams"]}
    assert streams["persons"]["created"] == 100 and streams["persons"]["updated_after_create"] == 0
    assert streams["persons"]["adopted"] == 1 and streams["persons"]["updated"] == 1
    assert streams["persons"]["rolled_back"] == page.number("migration.persons.rolled_back") == 7
    assert streams["deals"]["created"] == 290 and streams["deals"]["rolled_back"] == 4
    assert page.number("migration.rolled_back") == 11
    assert summary["input_problems"] == []


def test_a_skip_that_a_later_run_landed_is_not_counted(make_report, report_inputs):
    state = report_inputs["state"]
    state["ledger.sqlite"].append(
        {
            "stream": "deals",
            "source_id": "appointments:0",
            "pipedrive_id": 6_000,
            "origin": "created",
            "run_id": LATEST_RUN,
            "created_in": LATEST_RUN,
        }
    )
    state["manifest.jsonl"].append({"op": "create", "type": "deals", "id": 6_000, "run_id": LATEST_RUN})
    repeated = dict(state["skipped.jsonl"][-1])  # the earlier run's deal skipped again by the latest run
    state["skipped.jsonl"] += [
        {**repeated, "run_id": LATEST_RUN},
        {"origin": "target", "entity": "deals", "source_id": None, "reason": "missing_source_id"},
        {"origin": "target", "entity": "deals", "source_id": None, "reason": "missing_source_id"},
    ]
    _, summary, _, _ = make_report(report_inputs)
    streams = {row["stream"]: row for row in summary["migration"]["streams"]}
    assert streams["appointments"]["skipped"] == 4  # appointments:0 landed as a deal since
    assert streams["deals"]["skipped"] == 2 + 2  # appointments:1 once; entries without an id each count


def test_without_the_ledger_the_migration_is_not_available_and_listed(make_report, report_inputs):
    del report_inputs["state"]["ledger.sqlite"]
    page, summary, _, _ = make_report(report_inputs)
    assert summary["migration"]["available"] is False
    assert "ledger.sqlite: not found" in summary["input_problems"]
    assert "The target's ledger (ledger.sqlite) not available" in "".join(page.text)
    assert len(summary["runs"]) == 2
    assert summary["reconciled"] is True  # the latest run's counts still add up


def test_a_latest_run_without_its_own_summary_file_is_a_problem(make_report, report_inputs):
    del report_inputs["state"][f"summary-{LATEST_RUN}.json"]
    _, summary, _, _ = make_report(report_inputs)
    assert [run["run_id"] for run in summary["runs"]] == [EARLIER_RUN]
    assert summary["runs"][0]["latest"] is False
    assert (
        f"summary-{LATEST_RUN}.json: not found: the latest run is missing from the runs table"
        in summary["input_problems"]
    )


def test_an_entity_without_a_create_line_in_the_manifest_is_a_problem(make_report, report_inputs):
    report_inputs["state"]["manifest.jsonl"] = report_inputs["state"]["manifest.jsonl"][1:]
    _, summary, _, _ = make_report(report_inputs)
    assert summary["migration"]["totals"]["created"] == 403  # still created, just not known as updated
    assert (
        "manifest.jsonl: no create line for 1 entities the ledger holds: counted as created, not as updated"
        in summary["input_problems"]
    )


def test_bad_numbers_in_a_run_summary_are_problems_named_by_file(make_report, report_inputs):
    report_inputs["state"][f"summary-{EARLIER_RUN}.json"]["streams"]["deals"]["created"] = "4"
    report_inputs["state"][f"summary-{EARLIER_RUN}.json"]["api"]["calls"] = -1
    _, summary, _, _ = make_report(report_inputs)
    assert (
        f"summary-{EARLIER_RUN}.json deals.created: not a non-negative whole number"
        in summary["input_problems"]
    )
    assert (
        f"summary-{EARLIER_RUN}.json api.calls: not a non-negative whole number" in summary["input_problems"]
    )


def test_every_history_figure_on_the_page_is_in_the_json_summary(make_report, report_inputs):
    page, summary, _, _ = make_report(report_inputs)
    runs = {run["run_id"]: run for run in summary["runs"]}
    streams = {row["stream"]: row for row in summary["migration"]["streams"]}
    checked = 0
    for name in page.metrics:
        section, _, rest = name.partition(".")
        owner, _, key = rest.rpartition(".")
        if section == "runs" and owner:
            assert page.number(name) == runs[owner][key], name
        elif section == "migration" and owner:
            assert page.number(name) == streams[owner][key], name
        elif section == "migration":
            assert page.number(name) == summary["migration"]["totals"][key], name
        else:
            continue
        checked += 1
    assert checked == 2 * 8 + 5 * len(MIGRATION_KEYS) + len(MIGRATION_KEYS)


def test_the_report_reads_a_live_ledger_without_changing_the_state_folder(tmp_path: Path):
    state_dir, transform_reports = write_inputs(tmp_path, {"state": {}, "transform": {}})
    ledger = Ledger(state_dir / "ledger.sqlite")  # the target's own class: WAL mode, owner-only
    ledger.mark_done("persons", "patients:1", 11, {"name": "x"}, "run-1")
    ledger.mark_done("persons", "patients:2", 12, {"name": "y"}, "run-1", origin="preexisting")
    ledger.mark_pending("persons", "patients:3", "run-1")  # a create that may not have landed
    (state_dir / "manifest.jsonl").write_text(
        json.dumps({"op": "create", "type": "persons", "id": 11, "run_id": "run-1"}) + "\n"
    )
    before = {path.name: (path.stat().st_mode, path.read_bytes()) for path in state_dir.iterdir()}
    _, json_path = build_report(ReportInputs(state_dir, transform_reports, tmp_path / "out"))  # while open
    ledger.close()
    after_close = sorted(path.name for path in state_dir.iterdir())
    _, json_path = build_report(ReportInputs(state_dir, transform_reports, tmp_path / "out"))  # and after
    totals = json.loads(json_path.read_text("utf-8"))["migration"]["totals"]
    assert (totals["created"], totals["adopted"], totals["in_pipedrive"]) == (1, 1, 2)
    assert sorted(path.name for path in state_dir.iterdir()) == after_close  # no -wal/-shm left behind
    assert before["ledger.sqlite"][0] & 0o777 == 0o600 == os.stat(state_dir / "ledger.sqlite").st_mode & 0o777
