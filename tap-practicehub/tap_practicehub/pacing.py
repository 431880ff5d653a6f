"""Proactive per-key pacing: requests leave at most ``rate`` per second per API key, so a steady run draws no 429s."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class KeyPacer:
    """Spaces one API key's requests evenly; every stream and thread using the key shares this one pacer.

    The slot after each request is taken from the previous *scheduled* slot (not the moment the caller got
    round to asking), so a consumer that is briefly late does not lose throughput, and a small ``margin``
    absorbs the jitter between our clock and the server's bucket.
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
        self.interval = (1.0 / rate) * (1.0 + margin)
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._next_slot = 0.0

    def wait(self) -> float:
        """Block until this key may send its next request; returns the seconds waited."""
        with self._lock:
            now = self._clock()
            slot = max(now, self._next_slot)
            # A slot left unused for more than one interval is gone: the server's bucket holds one token.
            self._next_slot = slot + self.interval
        delay = slot - now
        if delay > 0:
            self._sleep(delay)
        return delay

    def hold(self, seconds: float) -> None:
        """Push this key's next slot at least ``seconds`` from now (after a 429 told us to wait)."""
        with self._lock:
            self._next_slot = max(self._next_slot, self._clock() + seconds)


def key_label(index: int) -> str:
    """How a key appears in logs: its position, never its value."""
    return f"key#{index + 1}"
