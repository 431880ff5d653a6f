"""Unstable paging: rows repeated across pages are emitted once, and none go missing."""

from __future__ import annotations

from testkit.tap_run import STREAM_ORDER, ids, tap_config


def test_unstable_paging_gives_no_duplicates_and_no_gaps(practicehub_sandbox_factory, tap_runner):
    sandbox = practicehub_sandbox_factory(unstable_paging=0.6, seed=7)
    run = tap_runner(tap_config(sandbox, page_size=5))
    assert run.returncode == 0, run.stderr[-2000:]
    pages = sandbox.stats()["pages"]
    assert sum(page["repeated"] for page in pages) > 0  # the sandbox really repeated rows
    for stream in STREAM_ORDER:
        got = ids(run.records[stream])
        assert len(got) == len(set(got)), stream
        assert sorted(got) == sorted(ids(sandbox.dataset[stream])), stream
