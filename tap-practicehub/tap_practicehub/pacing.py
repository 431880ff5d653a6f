"""Proactive per-key pacing: requests leave at most ``rate`` per second per API key, so a steady run draws no 429s."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable

MAX_MARGIN = 0.25
MAX_IN_FLIGHT = 3


class KeyPacer:
    """Spaces one API key's requests evenly; every stream and thread using the key shares this one pacer.

    Requests are at least ``interval * (1 + margin)`` apart as sent; the margin absorbs the jitter between
    our send and the moment the server's bucket counts the request.

    One request is in flight while an answer takes less than the interval (always, at PracticeHub's real
    rate); a second or third is let out only when answers take longer, so a slow server or a time-scaled
    run still uses every slot. Overlapping requests reach the server less evenly, so never more than needed.
    """

    def __init__(
        self,
        rate: float,
        margin: float = 0.02,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if rate <= 0:
            raise ValueError("rate must be > 0 requests per second")
        self.base_interval = 1.0 / rate
        self.margin = margin
        self.interval = self.base_interval * (1.0 + margin)
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._next_slot = 0.0
        self._flight = threading.Condition()
        self.in_flight = 0
        self.latency: float | None = None  # moving average of seconds per answer

    def allowed_in_flight(self) -> int:
        if self.latency is None:
            return 1
        return max(1, min(MAX_IN_FLIGHT, math.ceil(self.latency / self.interval)))

    def reserve(self) -> None:
        """Block until this key may have one more request in flight."""
        with self._flight:
            while self.in_flight >= self.allowed_in_flight():
                self._flight.wait()
            self.in_flight += 1

    def release(self) -> None:
        with self._flight:
            self.in_flight -= 1
            self._flight.notify()

    def answered(self, seconds: float) -> None:
        """One answer took ``seconds`` from send to parsed page."""
        with self._flight:
            self.latency = seconds if self.latency is None else 0.8 * self.latency + 0.2 * seconds
            self._flight.notify_all()

    def wait(self) -> float:
        """Block until this key may send its next request; returns the seconds waited."""
        with self._lock:  # held while sleeping: callers sharing a key queue up behind each other
            now = self._clock()
            delay = self._next_slot - now
            if delay > 0:
                self._sleep(delay)
            # Measured from when we really leave (sleep overshoots), so two sends are never closer than
            # one interval, whatever the scheduler did.
            self._next_slot = self._clock() + self.interval
        return max(delay, 0.0)

    def refused(self) -> float:
        """The server said 429 although we paced: its clock is noisier than our margin, so widen it.

        Doubles the margin (at least 2%, at most ``MAX_MARGIN``); returns the new margin. A run thus
        settles after a refusal or two at the spacing this server needs.
        """
        with self._lock:
            self.margin = min(MAX_MARGIN, max(0.02, self.margin * 2))
            self.interval = self.base_interval * (1.0 + self.margin)
            return self.margin

    def hold(self, seconds: float) -> None:
        """Push this key's next slot at least ``seconds`` from now (after a 429 told us to wait)."""
        with self._lock:
            self._next_slot = max(self._next_slot, self._clock() + seconds)


def key_label(index: int) -> str:
    """How a key appears in logs: its position, never its value."""
    return f"key#{index + 1}"
