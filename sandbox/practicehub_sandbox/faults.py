"""Injected faults (5xx, dropped connections, slow answers), drawn from a seeded generator."""

from __future__ import annotations

import random
import threading
from enum import Enum


class Fault(Enum):
    SERVER_ERROR = "5xx"
    DROP = "drop"
    SLOW = "slow"


SERVER_ERROR_STATUSES = (500, 502, 503)


class FaultPlan:
    """One draw per API request, so a given seed and request sequence always fails the same way."""

    def __init__(self, seed: int) -> None:
        self._random = random.Random(f"faults:{seed}")
        self._lock = threading.Lock()

    def draw(self, fault_5xx: float, fault_drop: float, fault_slow: float) -> tuple[Fault | None, int]:
        """The fault for the next request (or None) and, for a 5xx, its status code."""
        with self._lock:
            roll = self._random.random()
            status = self._random.choice(SERVER_ERROR_STATUSES)
        if roll < fault_5xx:
            return Fault.SERVER_ERROR, status
        if roll < fault_5xx + fault_drop:
            return Fault.DROP, 0
        if roll < fault_5xx + fault_drop + fault_slow:
            return Fault.SLOW, 0
        return None, 0
