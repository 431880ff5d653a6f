"""Using the burst window: in-flight calls adapt to the rate-limit headers; rollback deletes concurrently."""

from __future__ import annotations

import json
import threading
import time

import pytest
from requests.structures import CaseInsensitiveDict
from target_pipedrive.pacing import BurstPacer

pytestmark = pytest.mark.paced  # measures a pace: scripts/test.sh runs it with no other suite beside it


def _answer(pacer: BurstPacer, latency: float, *, limit: int, remaining: int, reset: float) -> None:
    started = pacer.acquire()
    headers = CaseInsensitiveDict({"x-ratelimit-limit": str(limit), "x-ratelimit-remaining": str(remaining),
                                   "x-ratelimit-reset": str(reset)})
    pacer.release(headers, started - latency)


def test_calls_in_flight_follow_the_window_the_latency_and_the_remaining_allowance():
    pacer = BurstPacer(limit=20, max_in_flight=16)
    assert pacer.target_in_flight() == 16  # nothing measured yet: up to the cap
    _answer(pacer, 0.1, limit=40, remaining=35, reset=2)
    # Growth: 40 per 2 s (39 usable) at ~0.1 s a call needs ceil(19.5 × 0.1 × 1.5) + 1 = 4 in flight.
    assert pacer.limit == 40 and pacer.window_seconds == 2
    assert 3 <= pacer.target_in_flight() <= 5
    assert pacer.in_flight == 0
    fast = BurstPacer(limit=40, max_in_flight=16)
    _answer(fast, 0.1, limit=40, remaining=35, reset=0.1)  # a 20× time-scaled window: 376 calls/s allowed
    assert fast.target_in_flight() == 16
    _answer(fast, 0.1, limit=40, remaining=2, reset=0.1)  # the window is nearly spent: one call per slot left
    assert fast.target_in_flight() == 2


def test_the_window_keeps_only_the_slots_that_send_jitter_can_shift_free():
    def sends_without_waiting(limit: int, window: float) -> int:
        pacer = BurstPacer(limit=limit, window_seconds=window, max_in_flight=1000)
        sent = 0
        deadline = time.monotonic() + window / 2
        done = threading.Event()

        def send_all():
            nonlocal sent
            while not done.is_set():
                pacer.release(None, pacer.acquire())
                sent += 1

        threading.Thread(target=send_all, daemon=True).start()
        time.sleep(max(deadline - time.monotonic(), 0))
        done.set()
        return sent

    assert sends_without_waiting(40, 2.0) == 39  # Growth at real speed: 20 ms of jitter holds < 1 send
    assert sends_without_waiting(100, 2.0) == 99  # Premium
    assert sends_without_waiting(40, 0.5) == 38  # Growth time-scaled × 4: the same 20 ms hold 1.6 sends


def test_a_full_window_waits_for_its_oldest_call_to_leave_not_the_rounded_reset():
    pacer = BurstPacer(limit=100, window_seconds=2.0)
    first = pacer.acquire()
    time.sleep(0.5)
    # Pipedrive rounds the reset up to whole seconds: "2" while the oldest call leaves in 1.5 s.
    pacer.release(CaseInsensitiveDict({"x-ratelimit-limit": "100", "x-ratelimit-remaining": "0",
                                       "x-ratelimit-reset": "2"}), first)
    asked = time.monotonic()
    pacer.acquire()
    waited = time.monotonic() - asked
    assert 1.3 <= waited <= 1.8, waited  # first send + 2 s window + jitter; the rounded reset would be 2 s


def test_acquire_waits_for_an_in_flight_slot_and_release_frees_it():
    pacer = BurstPacer(limit=100, max_in_flight=1)
    first = pacer.acquire()
    assert pacer.in_flight == 1
    released_at = []

    def finish_later():
        time.sleep(0.2)
        released_at.append(time.monotonic())
        pacer.release(CaseInsensitiveDict({"x-ratelimit-remaining": "90"}), first)

    threading.Thread(target=finish_later).start()
    pacer.acquire()
    assert released_at and time.monotonic() >= released_at[0]
    assert pacer.peak_in_flight == 1


def test_rollback_deletes_concurrently_kind_after_kind_in_reverse_dependency_order(harness):
    data = harness.practice(n_persons=12)
    assert harness.run(data).returncode == 0
    mark = harness.log_mark()
    result = harness.command("rollback", "--all", max_concurrency=8)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stderr.splitlines()[0])
    assert report["peak_in_flight"] > 1 and report["calls_per_second"] > 0
    deletes = [e for e in harness.sandbox.requests_log(mark) if e["method"] == "DELETE"]
    kinds = [e["path"].split("/")[3] for e in deletes]  # /api/v2/<entity>/<id>
    order = ["files", "notes", "activities", "deals", "persons", "organizations"]
    positions = {kind: [i for i, k in enumerate(kinds) if k == kind] for kind in order}
    assert all(positions[kind] for kind in order), kinds
    for before, after in zip(order, order[1:], strict=False):
        assert max(positions[before]) < min(positions[after]), (before, after)
    assert all(e["status"] == 200 for e in deletes if e["path"].split("/")[3] in order)
