"""A load that meets a plan limit on a real account (the sandbox refuses as Pipedrive does) stops or skips
with Pipedrive's error in one line, never a traceback."""

from __future__ import annotations

from testkit.target_run import TargetHarness


def test_custom_field_limit_stops_the_load_with_one_clear_line(pipedrive_sandbox_factory, tmp_path):
    sandbox = pipedrive_sandbox_factory(plan="lite", seats=3, fixture="in-use", time_scale=50.0)
    sandbox.configure(rate_limits=False)
    for i in range(24):  # 4 in the fixture + 24 = 28 of Lite's 30: the practice needs 10 more
        assert sandbox.request("POST", "/api/v2/dealFields", json={"field_name": f"Old {i}",
                                                                   "field_type": "varchar"}).status_code == 200
    harness = TargetHarness(sandbox, tmp_path, plan="lite")
    result = harness.run(harness.practice(), in_process=False)
    assert result.returncode == 2, result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    assert "reached a limit for an entity" in result.stderr and "Lite plan allows 30" in result.stderr
    assert harness.writes() and not [w for w in harness.writes() if w["path"].endswith("/persons")]


def test_open_deal_limit_skips_the_deals_over_it_with_pipedrives_error(pipedrive_sandbox_factory, tmp_path):
    sandbox = pipedrive_sandbox_factory(plan="lite", seats=1, fixture="in-use", time_scale=50.0)
    store = sandbox.account.store
    stage = store.query("stages", limit=1)[0]
    open_now = store.count("deals", "json_extract(data, '$.status') = 'open'")
    with store.transaction():  # the account is one open deal short of Lite × 1 seat (2,500)
        for i in range(2_500 - open_now - 1):
            store.insert("deals", {"title": f"Bulk {i}", "status": "open", "pipeline_id": stage["pipeline_id"],
                                   "stage_id": stage["id"], "owner_id": 1, "visible_to": 3, "is_deleted": False,
                                   "custom_fields": {}, "value": 0, "currency": "USD"})
    harness = TargetHarness(sandbox, tmp_path, plan="lite", seats=1)
    result = harness.run(harness.practice())
    assert result.returncode == 0, result.stderr[-2000:]
    deals = result.summary["streams"]["deals"]
    assert deals["created"] == 3 and deals["skipped"] == 1  # two open deals (one fits), one won, one lost
    skips = [line for line in (harness.state_dir / "skipped.jsonl").read_text().splitlines() if '"deals"' in line]
    assert len(skips) == 1 and "reached a limit for an entity" in skips[0] and "HTTP 403" in skips[0]
