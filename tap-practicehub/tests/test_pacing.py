"""Pacing: a steady run at the allowed rate draws no 429s and uses at least 90% of the allowance."""

from __future__ import annotations

import pytest
from testkit.tap_run import tap_config

pytestmark = pytest.mark.paced  # measures a pace: scripts/test.sh runs it with no other suite beside it

RATE = 20.0
# burst 2, not 1: at 20 req/s the Python sandbox itself adds a few ms of jitter before its bucket sees a
# request, which a one-token bucket punishes even for perfectly spaced sends. Two tokens absorb that
# jitter but still refuse any sustained rate above RATE.


def _achieved_rate(stats: dict, key: str | None = None, resource: str | None = None) -> float:
    times = sorted(entry["at"] for entry in stats["log"]
                   if (key is None or entry["key"] == key) and (resource is None or entry["resource"] == resource))
    return (len(times) - 1) / (times[-1] - times[0])


def test_one_key_at_20_rps_draws_no_429_and_uses_the_allowance(practicehub_sandbox_factory, tap_runner):
    sandbox = practicehub_sandbox_factory(dataset="tiny", rate=RATE, burst=2)
    # page_size 2 turns the tiny practice into ~80 requests: about 4 s at 20 req/s.
    run = tap_runner(tap_config(sandbox, requests_per_second=RATE, page_size=2, window_records=1000))
    assert run.returncode == 0, run.stderr[-2000:]
    stats = sandbox.stats()
    assert stats["requests"] >= 70
    assert stats["status_counts"].get("429", 0) == 0
    assert _achieved_rate(stats) >= 0.9 * RATE
    assert _achieved_rate(stats) <= 1.0 * RATE


def test_two_keys_each_paced_and_used_in_parallel(practicehub_sandbox_factory, tap_runner):
    sandbox = practicehub_sandbox_factory(dataset="tiny", api_keys=("key-a", "key-b"), rate=RATE, burst=2,
                                          rate_scope="key")
    run = tap_runner(tap_config(sandbox, requests_per_second=RATE, page_size=2, window_records=1000))
    assert run.returncode == 0, run.stderr[-2000:]
    stats = sandbox.stats()
    assert stats["status_counts"].get("429", 0) == 0
    assert len(stats["by_key"]) == 2
    assert min(stats["by_key"].values()) >= 0.3 * stats["requests"]
    # Together faster than one key may go: the keys really ran in parallel.
    assert _achieved_rate(stats) > 1.3 * RATE


def test_answers_slower_than_the_interval_overlap_so_the_allowance_is_still_used(practicehub_sandbox_factory,
                                                                                 tap_runner):
    # Every answer takes 80 ms against a 50 ms interval: one request at a time would reach 12.5 req/s.
    sandbox = practicehub_sandbox_factory(dataset="tiny", rate=RATE, burst=2, fault_slow=1.0, slow_seconds=0.08)
    run = tap_runner(tap_config(sandbox, requests_per_second=RATE, page_size=1, window_records=1000))
    assert run.returncode == 0, run.stderr[-2000:]
    stats = sandbox.stats()
    assert stats["status_counts"].get("429", 0) == 0
    # While the busiest stream is read (its first page is a round trip that tells how many follow); the
    # following streams' first pages share the key meanwhile, so every request of that span counts.
    busiest = max(stats["by_resource"], key=stats["by_resource"].get)
    assert stats["by_resource"][busiest] >= 25
    own = [entry["at"] for entry in stats["log"] if entry["resource"] == busiest]
    during = {"log": [entry for entry in stats["log"] if own[1] <= entry["at"] <= own[-1]]}
    assert 0.85 * RATE <= _achieved_rate(during) <= 1.0 * RATE


SLOW = 0.3  # seconds every answer takes in the two tests of reading ahead across streams


def _answer_times_by_stream(sandbox_factory, tap_runner, page_size: int) -> dict[str, list[float]]:
    """When each stream's answers left the sandbox ("at"), in the order the streams sync; two keys."""
    sandbox = sandbox_factory(dataset="tiny", api_keys=("key-a", "key-b"), rate=RATE, burst=2,
                              rate_scope="key", fault_slow=1.0, slow_seconds=SLOW)
    run = tap_runner(tap_config(sandbox, requests_per_second=RATE, page_size=page_size, window_records=1000))
    assert run.returncode == 0, run.stderr[-2000:]
    answered: dict[str, list[float]] = {}
    for entry in sandbox.stats()["log"]:
        answered.setdefault(entry["resource"], []).append(entry["at"])
    return answered


def test_the_next_stream_is_asked_for_while_the_last_pages_of_a_stream_arrive(practicehub_sandbox_factory,
                                                                               tap_runner):
    answered = _answer_times_by_stream(practicehub_sandbox_factory, tap_runner, page_size=2)
    streams = list(answered)
    overlapped = [after for before, after in zip(streams, streams[1:], strict=False)
                  if min(answered[after]) < max(answered[before]) + SLOW / 2]
    # Read one after the other, a stream's first answer would come a whole slow answer after the last one.
    assert len(overlapped) >= len(streams) // 2, (overlapped, streams)


def test_one_page_streams_in_a_row_are_asked_for_two_ahead(practicehub_sandbox_factory, tap_runner):
    answered = _answer_times_by_stream(practicehub_sandbox_factory, tap_runner, page_size=100)
    streams = list(answered)
    assert max(len(times) for times in answered.values()) == 1  # the tiny practice: one page per stream
    # Asked for only once the stream before it is read, each answer would come a slow answer after the last;
    # two ahead, they come in pairs.
    span = answered[streams[-1]][0] - answered[streams[0]][0]
    assert span <= 0.65 * (len(streams) - 1) * SLOW, (span, streams)
