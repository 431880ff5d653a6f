"""The check marks: green when every equation holds, red (and `reconciled: false`) when one does not."""

from __future__ import annotations

import pytest


def test_balanced_inputs_are_all_green(make_report, report_inputs):
    page, summary, _, _ = make_report(report_inputs)
    assert summary["reconciled"] is True
    assert page.body["data-reconciled"] == "yes"
    assert page.checks["overall"] == "ok"
    assert set(page.checks.values()) == {"ok"}
    expected = {"overall"} | {f"source.{s}" for s in report_inputs["transform"]["reconciliation.json"]["streams"]}
    expected |= {f"load.{s}" for s in report_inputs["state"]["summary.json"]["streams"]}
    expected |= {f"handover.{s}" for s in ("organizations", "persons", "deals", "skipped")}
    assert set(page.checks) == expected


def break_source(inputs):
    inputs["transform"]["reconciliation.json"]["streams"]["patients"]["out"] -= 1  # one record lost


def break_handover(inputs):
    inputs["transform"]["reconciliation.json"]["records_emitted"]["deals"] += 2  # target got fewer


def break_load(inputs):
    inputs["state"]["summary.json"]["streams"]["persons"]["created"] -= 3


def leave_waiting(inputs):
    counts = inputs["state"]["summary.json"]["streams"]["deals"]
    counts["created"] -= 1
    counts["waiting"] = 1  # adds up, but a record still waiting for its parent never landed


def lose_skip_file_line(inputs):
    inputs["state"]["skipped.jsonl"] = [row for row in inputs["state"]["skipped.jsonl"]
                                        if row.get("reason") != "missing_id"]


@pytest.mark.parametrize(("breaker", "red_check", "difference"), [
    (break_source, "source.patients", 1),
    (break_handover, "handover.deals", 2),
    (break_load, "load.persons", 3),
    (leave_waiting, "load.deals", 0),
    (lose_skip_file_line, "handover.skipped", 1),
])
def test_one_wrong_count_turns_its_row_and_the_banner_red(make_report, report_inputs, breaker, red_check, difference):
    breaker(report_inputs)
    page, summary, _, _ = make_report(report_inputs)
    assert summary["reconciled"] is False
    assert page.body["data-reconciled"] == "no"
    assert page.checks["overall"] == "mismatch"
    red = {name for name, status in page.checks.items() if status == "mismatch"}
    assert red == {"overall", red_check}
    section, stream = red_check.split(".")
    row = next(r for r in summary[f"{section}_reconciliation"] if r["stream"] == stream)
    assert row["balanced"] is False
    assert abs(row["difference"]) == difference


@pytest.mark.parametrize(("side", "name"), [
    ("transform", "reconciliation.json"), ("state", "summary.json"), ("state", "skipped.jsonl")])
def test_a_missing_input_cannot_reconcile_and_is_listed(make_report, report_inputs, side, name):
    del report_inputs[side][name]
    page, summary, _, _ = make_report(report_inputs)
    assert summary["reconciled"] is False
    assert page.checks["overall"] == "mismatch"
    assert f"{name}: not found" in summary["input_problems"]
    assert page.number("input_problems.count") == len(summary["input_problems"])


def test_bad_values_and_lines_are_problems_not_crashes(make_report, report_inputs):
    report_inputs["state"]["summary.json"]["streams"]["deals"]["created"] = "290"
    report_inputs["state"]["metrics.jsonl"].append({"t": "yesterday", "calls": 1})
    page, summary, _, _ = make_report(report_inputs)
    assert "summary.json deals.created: not a non-negative whole number" in summary["input_problems"]
    assert "metrics.jsonl row 101: no usable time t (row left out)" in summary["input_problems"]
    assert summary["reconciled"] is False  # "290" counted as 0: deals no longer add up
    assert page.checks["load.deals"] == "mismatch"


def test_unreadable_skip_file_lines_are_reported_by_line_number(make_report, report_inputs):
    report_inputs["state"]["skipped.jsonl"] = "\n".join(
        ['{"origin": "transform", "entity": "patients", "reason": "missing_id"}', "{oops", "[1, 2]"]) + "\n"
    _, summary, _, _ = make_report(report_inputs)
    assert "skipped.jsonl line 2: not JSON (line left out)" in summary["input_problems"]
    assert "skipped.jsonl line 3: not a JSON object (line left out)" in summary["input_problems"]
    assert summary["skips"]["total"] == 1


def test_empty_folders_still_give_a_page_that_says_what_is_missing(make_report):
    page, summary, html_path, _ = make_report({"state": {}, "transform": {}})
    assert summary["reconciled"] is False
    assert page.checks == {"overall": "mismatch"}
    assert page.number("totals.records_in") == 0
    assert page.number("input_problems.count") == len(summary["input_problems"]) >= 5
    assert "".join(page.text).count("not available") >= 4
    assert html_path.read_text("utf-8").count('<svg class="chart"') == 2  # the two (empty) record charts
