"""Every figure on the page equals the inputs, and the JSON summary carries the same numbers."""

from __future__ import annotations

import pytest

SOURCE_KEYS = ("in", "out", "merged", "skipped")
LOAD_KEYS = ("received", "created", "updated", "unchanged", "skipped", "waiting")


def test_source_and_load_figures_equal_the_inputs(make_report, report_inputs):
    page, summary, _, _ = make_report(report_inputs)
    streams = report_inputs["transform"]["reconciliation.json"]["streams"]
    for stream, counts in streams.items():
        for key in SOURCE_KEYS:
            assert page.number(f"source.{stream}.{key}") == counts[key], (stream, key)
        aside = counts["documented"] + counts["reference"] + counts["consumed"] + counts["not_sampled"]
        assert page.number(f"source.{stream}.kept_aside") == aside
    for entity, counts in report_inputs["state"]["summary.json"]["streams"].items():
        for key in LOAD_KEYS:
            assert page.number(f"load.{entity}.{key}") == counts[key], (entity, key)
            if key != "received":
                assert summary["records"][entity][key] == counts[key], (entity, key)
        assert page.number(f"load.{entity}.failed") == 0  # the target has no failed count: it skips instead


def test_totals_are_sums_of_the_inputs(make_report, report_inputs):
    page, summary, _, _ = make_report(report_inputs)
    streams = report_inputs["transform"]["reconciliation.json"]["streams"].values()
    loads = report_inputs["state"]["summary.json"]["streams"].values()
    expected = {
        "records_in": sum(s["in"] for s in streams),
        "merged": sum(s["merged"] for s in streams),
        "skipped_by_mapper": sum(s["skipped"] for s in streams),
        "landed": sum(s["created"] + s["updated"] + s["unchanged"] for s in loads),
        "skipped_by_target": sum(s["skipped"] for s in loads),
        "failed": sum(s["waiting"] for s in loads),
    }
    assert expected["records_in"] == 429 and expected["landed"] == 405
    for key, value in expected.items():
        assert page.number(f"totals.{key}") == value, key
        assert summary["totals"][key] == value, key


def test_throughput_and_budget_come_from_the_metrics_and_summary(make_report, report_inputs):
    page, summary, _, _ = make_report(report_inputs)
    metrics = report_inputs["state"]["metrics.jsonl"]
    assert page.number("throughput.calls") == sum(m["calls"] for m in metrics) == 420
    assert page.number("throughput.status_429") == sum(m["status_429"] for m in metrics) == 2
    assert page.number("throughput.tokens") == sum(m["tokens"] for m in metrics) == 2_100
    assert page.number("throughput.seconds") == 100
    assert page.number("throughput.peak_calls_per_second") == 6
    assert page.number("throughput.average_calls_per_second") == pytest.approx(4.2)
    api = report_inputs["state"]["summary.json"]["api"]
    assert page.number("budget.daily_limit") == api["daily_token_limit"]
    assert page.number("budget.remaining") == api["daily_tokens_remaining"]
    assert page.number("budget.used_by_run") == api["tokens"]
    assert page.number("budget.used_by_others") == 90_000 - 80_000 - 2_100
    assert page.number("budget.percent_used") == pytest.approx(11.1)
    assert summary["budget"]["used_by_others"] == 7_900
    assert summary["input_problems"] == []


def test_without_per_second_metrics_the_run_totals_are_shown(make_report, report_inputs):
    del report_inputs["state"]["metrics.jsonl"]
    del report_inputs["state"]["summary.json"]["api"]["daily_token_limit"]
    page, summary, html_path, _ = make_report(report_inputs)
    assert page.number("throughput.calls") == 420
    assert page.number("throughput.status_429") == 2
    assert page.number("throughput.seconds") == 100.4  # summary.json elapsed_seconds
    assert page.number("throughput.average_calls_per_second") == pytest.approx(420 / 100.4, abs=0.01)
    assert "throughput.peak_calls_per_second" not in page.metrics
    assert 'data-chart="throughput"' not in html_path.read_text("utf-8")
    assert page.number("budget.used_by_run") == 2_100 and page.number("budget.remaining") == 80_000
    assert "budget.daily_limit" not in page.metrics
    assert summary["reconciled"] is True  # metrics are optional; the counts still add up


def test_metrics_that_disagree_with_the_run_totals_are_a_problem(make_report, report_inputs):
    report_inputs["state"]["metrics.jsonl"].pop()
    _, summary, _, _ = make_report(report_inputs)
    assert "metrics.jsonl: calls add up to 416, summary.json api.calls says 420" in summary["input_problems"]


def test_skips_of_this_run_are_counted_by_origin_stream_and_reason(make_report, report_inputs):
    page, summary, _, _ = make_report(report_inputs)
    this_run = [row for row in report_inputs["state"]["skipped.jsonl"] if row["run_id"] == "20251125T070000Z"]
    assert page.number("skips.total") == len(this_run) == 12
    assert page.number("skips.transform.appointments.unknown_status") == 5
    assert page.number("skips.transform.patients.deleted_in_source") == 3
    assert page.number("skips.target.persons.rejected") == 2
    assert page.number("skips.target.deals.missing_parent") == 1  # the older run's entry is left out
    assert sum(row["count"] for row in summary["skips"]["by_stream_reason"]) == 12


def test_dedupe_practitioners_verify_and_workflows(make_report, report_inputs):
    page, summary, _, _ = make_report(report_inputs)
    merges = report_inputs["transform"]["dedupe.json"]["merges"]
    assert page.number("dedupe.merges") == len(merges) == 6
    text = "".join(page.text)
    for merge in merges:
        assert merge["survivor_source_id"] in text and merge["merged_source_id"] in text
    assert page.number("unmatched.count") == 1
    assert page.number("unmatched.practitioners:7.records") == 12
    assert "Dr Ann Lee" in text and "office@clinic.example" in text
    assert page.number("verify.persons.emails") == 1
    assert page.number("verify.persons.custom_fields.referral_source") == 1
    assert page.number("verify.persons.mismatched_records") == 2
    assert page.number("verify.total_mismatches") == 2
    assert page.number("verify.deals.checked") == 294
    assert page.number("verify.deals.mismatched_records") == 0
    assert page.number("workflows.active") == 1
    assert '"Google"' not in text and "Friend" not in text  # verify's sent/actual values stay in the CSV


def test_links_are_relative_and_point_at_the_files(make_report, report_inputs):
    page, _, html_path, _ = make_report(report_inputs)
    for key in ("workflows", "field_map", "json_summary"):
        href = page.links[key]
        assert not href.startswith(("/", "file:", "http")), href
        assert (html_path.parent / href).is_file(), href


def test_every_numeric_figure_is_in_the_json_summary(make_report, report_inputs):
    """The page shows nothing the JSON lacks: each data-metric value appears at its JSON path."""
    page, summary, _, _ = make_report(report_inputs)
    rows = {("source", r["stream"]): r for r in summary["source_reconciliation"]}
    rows |= {("load", r["stream"]): r for r in summary["load_reconciliation"]}
    rows |= {("handover", r["stream"]): r for r in summary["handover_reconciliation"]}
    checked = 0
    for name in page.metrics:
        section, _, rest = name.partition(".")
        stream, _, key = rest.rpartition(".")
        if (section, stream) in rows:
            assert page.number(name) == rows[(section, stream)][key], name
            checked += 1
        elif section in ("totals", "throughput", "budget"):
            assert page.number(name) == pytest.approx(summary[section][rest]), name
            checked += 1
    assert checked >= 60


def test_long_runs_are_grouped_into_at_most_240_points(make_report, report_inputs):
    report_inputs["state"]["metrics.jsonl"] = [
        {"t": f"2025-11-25T07:{minute:02d}:{second:02d}Z", "calls": 2, "status_429": int(minute == 30 and second == 0),
         "tokens": 10} for minute in range(60) for second in range(60)]
    page, summary, _, _ = make_report(report_inputs)
    speed = summary["throughput"]
    assert speed["seconds"] == 3600
    assert len(speed["series"]) <= 240
    assert sum(p["calls"] for p in speed["series"]) == speed["calls"] == 7200
    assert sum(p["status_429"] for p in speed["series"]) == 1
    assert speed["started_at"].startswith("2025-11-25T07:00:00")
    assert page.number("throughput.calls") == 7200


def test_a_long_merge_list_is_cut_on_the_page_but_complete_in_the_json(make_report, report_inputs):
    report_inputs["transform"]["dedupe.json"]["merges"] = [
        {"survivor_source_id": f"patients:{n}", "merged_source_id": f"patients:{n + 100_000}", "matched_on": "email"}
        for n in range(1_200)]
    page, summary, html_path, _ = make_report(report_inputs)
    assert page.number("dedupe.merges") == 1_200
    assert len(summary["dedupe"]["merges"]) == 1_200
    source = html_path.read_text("utf-8")
    assert "patients:100499" in source and "patients:100500" not in source
    assert (html_path.parent / page.links["dedupe_csv"]).is_file()


def test_the_source_check_shows_each_category_and_every_degraded_value(make_report, report_inputs):
    report_inputs["state"]["reconcile.json"] = {
        "ok": False, "unexplained": 2, "api_calls": 9,
        "streams": {
            "patients": {"records": 10, "exact": 6, "degraded": 2, "merged": 1, "not_landed_accepted": 1,
                         "different": 0, "not_landed": 0, "not_landed_reasons": {"deleted_in_source": 1}},
            "appointments": {"records": 5, "exact": 3, "degraded": 0, "merged": 0, "not_landed_accepted": 0,
                             "different": 1, "not_landed": 1,
                             "not_landed_reasons": {"deleted in Pipedrive": 1}}}}
    report_inputs["state"]["degraded.jsonl"] = [
        {"source_stream": "patients", "source_id": "patients:1", "field": "patients.email",
         "reason": "invalid_email", "action": "kept_raw"},
        {"source_stream": "patients", "source_id": "patients:2", "field": "patients.email",
         "reason": "invalid_email", "action": "kept_raw"},
        {"source_stream": "patients", "source_id": "patients:2", "field": "patients.email",  # the delta, again
         "reason": "invalid_email", "action": "kept_raw"},
        {"source_stream": "files", "source_id": "files:9", "field": "files.file_name",
         "reason": "missing_file_name", "action": "generated"}]
    page, summary, html_path, _ = make_report(report_inputs)
    for stream, counts in report_inputs["state"]["reconcile.json"]["streams"].items():
        for key in ("records", "exact", "degraded", "merged", "not_landed_accepted", "different", "not_landed"):
            assert page.number(f"source_check.{stream}.{key}") == counts[key], (stream, key)
    assert page.number("source_check.unexplained") == 2 and summary["source_check"]["ok"] is False
    assert page.number("degraded.total") == 3
    assert page.number("degraded.patients.patients.email.invalid_email") == 2
    assert page.number("degraded.files.files.file_name.missing_file_name") == 1
    assert "deleted in Pipedrive (1)" in html_path.read_text("utf-8")


def test_without_a_source_check_the_report_says_how_to_run_one(make_report, report_inputs):
    _, summary, html_path, _ = make_report(report_inputs)
    assert summary["source_check"]["available"] is False
    assert "meltano run reconcile" in html_path.read_text("utf-8")


def test_the_token_estimate_is_compared_with_what_the_run_used(make_report, report_inputs):
    report_inputs["state"]["summary.json"]["budget_plan"] = {
        "tokens_estimated": 2_000, "tokens_used": 2_100, "estimate_accuracy": 1.05, "basis": "preflight"}
    page, summary, _, _ = make_report(report_inputs)
    assert page.number("estimate.estimated") == 2_000 and page.number("estimate.used") == 2_100
    assert page.number("estimate.accuracy") == 1.05 and summary["estimate"]["basis"] == "preflight"
