"""Pacing of Pipedrive calls inside the rolling burst window (the target's counterpart of the tap's
tap_practicehub/pacing.py): how many calls may be in flight, and when the next may leave.

Pure timing and header arithmetic: `PipedriveClient` (client.py) asks `acquire` before each send and hands the
answer's headers to `release`; retries, budgets and errors stay in the client.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Mapping

MAX_WINDOW_SECONDS = 10.0  # a longer reset is the daily budget's, not the burst window's


class BurstPacer:
    """Keeps requests inside the rolling burst window, with as many in flight as it takes to fill it.

    Counts its own sends over the window like the server does, with the limit from
    `x-ratelimit-limit` and the window length learned from `x-ratelimit-reset` (the longest reset
    seen is the window; Pipedrive's is 2 s). `remaining == 0` blocks until our oldest send leaves the
    window (at most the reset); a 429 blocks until the reset.
    Calls in flight adapt by Little's law: allowed rate (limit / window) × measured latency, with
    headroom, fewer when `x-ratelimit-remaining` runs low, never more than `max_in_flight`.
    """

    # Our send times and the server's arrival times differ by a few milliseconds of jitter, so the server's
    # window can hold the sends of a slightly longer span of ours: leave the slots that span holds free.
    JITTER_SECONDS = 0.02
    HEADROOM = 1.5  # latency varies call to call: keep a few more in flight than the average needs
    LOW_REMAINING = 0.1  # below this share of the window left, send one call per remaining slot

    def __init__(self, limit: int, window_seconds: float = 2.0, max_in_flight: int = 16) -> None:
        self.limit = limit
        self.window_seconds = window_seconds
        self.max_in_flight = max(int(max_in_flight), 1)
        self.in_flight = 0
        self.peak_in_flight = 0
        self.latency: float | None = None  # moving average of seconds per call
        self._remaining: float | None = None
        self._learned_window = 0.0
        self._lock = threading.Lock()
        self._wakeup = threading.Condition(self._lock)
        self._sent: deque[float] = deque()
        self._blocked_until = 0.0

    def _capacity(self) -> int:
        spare = max(1, math.ceil(self.limit * self.JITTER_SECONDS / self.window_seconds))
        return max(self.limit - spare, 1)

    def target_in_flight(self) -> int:
        """How many calls should be in flight now (call with the lock held)."""
        if self.latency is None:
            return self.max_in_flight
        rate = self._capacity() / self.window_seconds
        wanted = math.ceil(rate * self.latency * self.HEADROOM) + 1
        if self._remaining is not None and self._remaining < self.limit * self.LOW_REMAINING:
            wanted = min(wanted, max(int(self._remaining), 1))
        return max(1, min(self.max_in_flight, wanted))

    def acquire(self) -> float:
        """Wait for a slot in the window and in flight; returns the send time for `release`."""
        with self._wakeup:
            while True:
                now = time.monotonic()
                while self._sent and now - self._sent[0] >= self.window_seconds:
                    self._sent.popleft()
                if self._blocked_until > now:
                    wait = self._blocked_until - now
                elif self.in_flight >= self.target_in_flight():
                    wait = self.window_seconds  # woken by the next release
                elif len(self._sent) < self._capacity():
                    self._sent.append(now)
                    self.in_flight += 1
                    self.peak_in_flight = max(self.peak_in_flight, self.in_flight)
                    return now
                else:
                    wait = self._sent[0] + self.window_seconds - now
                self._wakeup.wait(min(max(wait, 0.001), self.window_seconds))

    def release(self, headers: Mapping[str, str] | None, started: float | None = None) -> None:
        """Once per `acquire`: frees the in-flight slot and learns from the answer's headers."""
        limit = header_number(headers.get("x-ratelimit-limit")) if headers else None
        remaining = header_number(headers.get("x-ratelimit-remaining")) if headers else None
        reset = header_number(headers.get("x-ratelimit-reset")) if headers else None
        with self._wakeup:
            if started is not None:
                self.in_flight = max(self.in_flight - 1, 0)
                if headers:
                    took = time.monotonic() - started
                    self.latency = took if self.latency is None else 0.8 * self.latency + 0.2 * took
                self._wakeup.notify_all()
            if limit:
                self.limit = int(limit)
            if remaining is not None:
                self._remaining = remaining
            if reset is not None and self._learned_window < reset <= MAX_WINDOW_SECONDS:
                self._learned_window = reset
                self.window_seconds = reset
            if remaining is not None and remaining <= 0 and reset is not None:
                self._blocked_until = max(self._blocked_until, self._window_frees(reset))

    def _window_frees(self, reset: float) -> float:
        """When a full window takes a call again (lock held). A rolling window frees a slot as its oldest
        call leaves, which is our oldest send give or take jitter; `reset` is rounded up to whole seconds
        at Pipedrive, so waiting all of it would idle up to a window each time the window fills."""
        until = time.monotonic() + reset
        if self._sent:
            until = min(until, self._sent[0] + self.window_seconds + self.JITTER_SECONDS)
        return until

    def back_off_until_reset(self, headers: Mapping[str, str]) -> float:
        reset = header_number(headers.get("x-ratelimit-reset"))
        wait = reset if reset is not None else self.window_seconds
        with self._lock:
            self._blocked_until = max(self._blocked_until, time.monotonic() + wait)
        return wait


def header_number(value: str | None) -> float | None:
    """A rate-limit header as a number (None when absent or not a number)."""
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None
