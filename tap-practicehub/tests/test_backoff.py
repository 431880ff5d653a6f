"""Back-off: 429s (with and without Retry-After), 5xx answers and dropped connections never lose a record."""

from __future__ import annotations

import pytest
from testkit.tap_run import STREAM_ORDER, ids, tap_config


def _assert_complete(run, sandbox):
    assert run.returncode == 0, run.stderr[-2000:]
    served = sandbox.dataset
    for stream in STREAM_ORDER:
        assert sorted(ids(run.records[stream])) == sorted(ids(served[stream])), stream


@pytest.mark.parametrize("retry_after", [True, False], ids=["with-retry-after", "without-retry-after"])
def test_429_from_a_tighter_server_limit_is_retried(practicehub_sandbox_factory, tap_runner, retry_after):
    sandbox = practicehub_sandbox_factory(rate=25.0, burst=1, retry_after=retry_after)
    # The tap believes it may send 30 req/s: the server refuses many and the tap must back off.
    run = tap_runner(tap_config(sandbox, requests_per_second=30.0, page_size=20))
    _assert_complete(run, sandbox)
    assert sandbox.stats()["status_counts"].get("429", 0) > 0
    assert "HTTP 429" in run.stderr
    assert ("Retry-After" in run.stderr) is retry_after


def test_5xx_and_dropped_connections_are_retried(practicehub_sandbox_factory, tap_runner):
    sandbox = practicehub_sandbox_factory(fault_5xx=0.15, fault_drop=0.1, seed=3)
    run = tap_runner(tap_config(sandbox, page_size=10, request_timeout=5))
    _assert_complete(run, sandbox)
    counts = sandbox.stats()["status_counts"]
    assert sum(n for status, n in counts.items() if status.startswith("5")) > 0
    assert counts.get("dropped", 0) > 0


def test_slow_answers_past_the_timeout_are_retried(practicehub_sandbox_factory, tap_runner):
    sandbox = practicehub_sandbox_factory(fault_slow=0.1, slow_seconds=1.5, seed=5)
    run = tap_runner(tap_config(sandbox, page_size=20, request_timeout=0.5))
    _assert_complete(run, sandbox)
    assert "ReadTimeout" in run.stderr
