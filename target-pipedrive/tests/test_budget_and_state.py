"""The token budget plan made before the first write, and Singer STATE held while children wait."""

from __future__ import annotations

import contextlib
import io
import json

from target_pipedrive import loader
from target_pipedrive.costs import CREATE_CALLS, CostTable
from target_pipedrive.report import RunReport
from target_pipedrive.target import TargetPipedrive
from testkit import SPEC_DIR
from testkit.target_contract import messages
from testkit.target_run import TargetHarness, by_custom, live

# Write cost per create, from the official specs' x-token-cost where they are beside the checkout.
COSTS = CostTable.from_openapi_dir(str(SPEC_DIR) if SPEC_DIR.exists() else None)


def _expected_tokens(data: dict) -> int:
    return sum(len(data[s]) * COSTS.cost(*CREATE_CALLS[s]) for s in CREATE_CALLS if s in data)


def test_budget_plan_from_the_records_received_is_logged_and_in_the_summary(harness):
    data = harness.practice()
    result = harness.run(data, in_process=False, plan="lite", seats=1)
    assert result.returncode == 0, result.stderr[-2000:]
    plan = result.summary["budget_plan"]
    records = sum(len(v) for s, v in data.items() if s != "skipped")
    assert plan["basis"] == "records_received_before_first_write"
    assert plan["records_counted"] == records
    assert plan["tokens_estimated"] == _expected_tokens(data)
    assert plan["daily_budget"] == 30_000 * 5 * 3  # the sandbox's headers (premium × 3 seats) beat the config
    assert plan["days_needed"] == 1 and plan["tokens_used"] >= plan["tokens_estimated"]
    line = next(x for x in result.stderr.splitlines() if "token estimate:" in x)
    assert f"{plan['tokens_estimated']} tokens for {records} records" in line
    assert "Patient" not in result.stderr and "mail.example" not in result.stderr


def test_budget_plan_uses_preflight_and_a_too_big_load_is_planned_over_days_then_stops_cleanly(
    pipedrive_sandbox_factory, tmp_path
):
    sandbox = pipedrive_sandbox_factory(plan="premium", seats=3, fixture="empty", time_scale=50.0, daily_budget=120)
    harness = TargetHarness(sandbox, tmp_path)
    path = harness.input_file(harness.practice())
    preflight = harness.command("preflight", "--input", str(path))
    assert preflight.returncode == 0, preflight.stderr
    planned = json.loads((harness.state_dir / "preflight.json").read_text())
    sandbox.reset_counters()
    result = harness.run(path, in_process=False)
    assert result.returncode == 3, result.stderr[-2000:]  # the clean stop on exhaustion is unchanged
    plan = result.summary["budget_plan"]
    assert plan["basis"] == "preflight"
    assert plan["tokens_estimated"] == planned["planned_tokens"] > 120
    assert plan["daily_budget"] == 120
    assert plan["days_needed"] == -(-planned["planned_tokens"] // 120) >= 2
    assert "days of the daily budget" in result.stderr


def test_state_is_held_while_children_wait_for_their_parent(harness):
    data = harness.practice(n_persons=2)
    schemas = [m for m in messages(data) if m["type"] == "SCHEMA"]
    persons = [{"type": "RECORD", "stream": "persons", "record": r} for r in data["persons"]]
    orgs = [{"type": "RECORD", "stream": "organizations", "record": r} for r in data["organizations"]]
    state_1 = {"type": "STATE", "value": {"bookmarks": {"patients": "after-persons"}}}
    state_2 = {"type": "STATE", "value": {"bookmarks": {"patients": "after-organizations"}}}
    target = TargetPipedrive(config=harness.config, validate_config=True)

    def feed_and_drain(msgs: list[dict]) -> str:
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            target.process_lines(io.StringIO("".join(json.dumps(m) + "\n" for m in msgs)))
            target.drain_all()  # what the SDK does when records age or a schema changes
        return out.getvalue()

    # Persons arrive before their organizations: drained, they wait, so STATE (which covers them) is held.
    assert feed_and_drain([*schemas, *persons, state_1]) == ""
    assert len(target.loader.waiting["persons"]) == 2
    assert not any(p["name"] in ("Patient 1", "Patient 2") for p in live(harness.sandbox.snapshot(), "persons"))
    # Once the parents land, the children are written and the latest STATE goes out.
    emitted = feed_and_drain([*orgs, state_2])
    assert [json.loads(line) for line in emitted.splitlines()] == [state_2["value"]]
    assert not any(target.loader.waiting.values())
    with contextlib.redirect_stdout(io.StringIO()):
        target.process_endofpipe()
    rows = {(r["entity"], r["logical_name"]): r for r in json.loads((harness.state_dir / "field_map.json").read_text())}
    landed = by_custom(live(harness.sandbox.snapshot(), "persons"), rows[("persons", "practicehub_id")]["key"])
    assert {"patients:101", "patients:102"} <= set(landed)


def test_a_run_that_receives_nothing_writes_its_own_summary(harness, tmp_path):
    # An empty delta: the report compares each run with the mapper's reconciliation of the same run, so the
    # target must not leave the previous run's summary.json in place.
    assert harness.run(harness.practice()).returncode == 0
    mark = harness.log_mark()
    empty = tmp_path / "nothing.singer"
    empty.write_text("", encoding="utf-8")
    result = harness.run(empty, run_id="run-2")
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.summary["run_id"] == "run-2" and result.summary["status"] == "completed"
    assert all(not counts.get("created") for counts in result.summary.get("streams", {}).values())
    assert (harness.state_dir / "summary-run-2.json").stat().st_mode & 0o777 == 0o600
    assert harness.writes(mark) == []


def test_the_summary_is_rewritten_at_most_every_few_seconds_while_loading_and_always_at_the_end(
        harness, monkeypatch):
    """Rewriting summary.json after every batch cost a file write per 200 records: it is paced by a clock."""
    now = [1_000.0]
    monkeypatch.setattr(loader, "report_clock", lambda: now[0])  # frozen: no wall time in the test
    written: list[str] = []
    original = RunReport.write

    def counting_write(report, state_dir):
        written.append(report.status)
        return original(report, state_dir)

    monkeypatch.setattr(RunReport, "write", counting_write)
    data = harness.practice()
    batches: list[str] = []  # every batch a sink hands the loader: records, and the mapper's skip list
    monkeypatch.setattr(loader.Loader, "load", _counting(loader.Loader.load, batches))
    monkeypatch.setattr(loader.Loader, "record_transform_skips",
                        _counting(loader.Loader.record_transform_skips, batches))
    result = harness.run(data, batch_size_rows=1)  # one record a batch: many batches
    assert result.returncode == 0, result.stderr[-2000:]
    assert len(batches) >= 15
    assert written == ["running", "completed"]  # after the first batch, then the end of the run
    assert result.summary["status"] == "completed" and result.summary["reconciles"]

    written.clear()
    batches.clear()

    def ticking_clock() -> float:  # each reading REPORT_EVERY_SECONDS later: every batch is due again
        now[0] += loader.REPORT_EVERY_SECONDS
        return now[0]

    monkeypatch.setattr(loader, "report_clock", ticking_clock)
    again = harness.run(data, run_id="run-2", batch_size_rows=1)
    assert again.returncode == 0, again.stderr[-2000:]
    assert written == ["running"] * len(batches) + ["completed"]


def _counting(method, calls: list):
    def wrapper(self, *args):
        calls.append(method.__name__)
        return method(self, *args)
    return wrapper
