"""Fault injection: random faults by probability, or a scripted queue for deterministic tests."""

from __future__ import annotations

import random
import threading
from collections import deque

from .config import Settings

FAULT_KINDS = ("5xx", "429", "drop", "stall")


class Faults:
    def __init__(self, settings: Settings, seed: int = 0):
        self.settings = settings
        self.random = random.Random(seed)
        self.lock = threading.Lock()
        self.scripted: deque[str] = deque()

    def script(self, kinds: list[str]) -> None:
        """Queue faults for the next API requests, in order (e.g. ["5xx", "5xx", "429", "drop"])."""
        for kind in kinds:
            if str(kind) not in FAULT_KINDS:
                raise ValueError(f"unknown fault {kind!r}; choose from {', '.join(FAULT_KINDS)}")
        with self.lock:
            self.scripted.extend(str(kind) for kind in kinds)

    def clear(self) -> None:
        with self.lock:
            self.scripted.clear()

    def pending(self) -> list[str]:
        with self.lock:
            return list(self.scripted)

    def draw(self) -> str | None:
        """The fault for this request, or None."""
        with self.lock:
            if self.scripted:
                return self.scripted.popleft()
            settings = self.settings
            for kind, probability in (("5xx", settings.fault_5xx), ("429", settings.fault_429),
                                      ("drop", settings.fault_drop), ("stall", settings.fault_stall)):
                if probability and self.random.random() < probability:
                    return kind
        return None
