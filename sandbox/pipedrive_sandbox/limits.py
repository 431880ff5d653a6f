"""Pipedrive's token-based rate limits: a per-token burst window and a per-company daily budget."""

from __future__ import annotations

import math
import threading
import time
from collections import defaultdict, deque
from dataclasses import dataclass

from .config import SEARCH_BURST_LIMIT, Settings


@dataclass
class Decision:
    allowed: bool
    reason: str  # "", "burst", "search_burst" or "daily"
    headers: dict[str, str]
    refused_in_a_row: int = 0  # this token's consecutive refusals, this one included


class RateLimiter:
    def __init__(self, settings: Settings, clock=time.monotonic):
        self.settings = settings
        self.clock = clock
        self.lock = threading.Lock()
        self.windows: dict[tuple[str, str], deque[float]] = defaultdict(deque)
        self.started = clock()
        self.day_index = 0
        self.tokens_used = 0
        self.refusals: dict[str, int] = defaultdict(int)

    def _roll_day(self, now: float) -> None:
        day = int((now - self.started) // self.settings.day_seconds)
        if day != self.day_index:
            self.day_index = day
            self.tokens_used = 0

    def reset(self) -> None:
        with self.lock:
            self.windows.clear()
            self.refusals.clear()
            self.tokens_used = 0
            self.started = self.clock()
            self.day_index = 0

    def daily_remaining(self) -> int:
        with self.lock:
            self._roll_day(self.clock())
            return max(self.settings.budget - self.tokens_used, 0)

    def check(self, token_key: str, cost: int, search: bool) -> Decision:
        """Count one request of `cost` tokens; refuse it (without charging) when over a limit."""
        settings = self.settings
        with self.lock:
            now = self.clock()
            self._roll_day(now)
            bucket = "search" if search else "all"
            limit = SEARCH_BURST_LIMIT if search else settings.burst_limit
            window = self.windows[(token_key, bucket)]
            while window and now - window[0] >= settings.window_seconds:
                window.popleft()
            budget = settings.budget
            reason = ""
            if settings.rate_limits:
                if self.tokens_used + cost > budget:
                    reason = "daily"
                elif len(window) >= limit:
                    reason = "search_burst" if search else "burst"
            if not reason:
                window.append(now)
                self.tokens_used += cost
                self.refusals[token_key] = 0
            else:
                self.refusals[token_key] += 1
            remaining_window = max(limit - len(window), 0)
            reset_in = settings.window_seconds - (now - window[0]) if window else settings.window_seconds
            day_left = settings.day_seconds - ((now - self.started) % settings.day_seconds)
            daily_left = max(budget - self.tokens_used, 0)
            headers = {
                "x-ratelimit-limit": str(limit),
                "x-ratelimit-remaining": str(remaining_window),
                "x-ratelimit-reset": seconds_header(day_left if reason == "daily" else reset_in, settings.time_scale),
                "x-daily-requests-left": str(daily_left),
                "x-daily-ratelimit-token-limit": str(budget),
                "x-daily-ratelimit-token-remaining": str(daily_left),
            }
            return Decision(allowed=not reason, reason=reason, headers=headers,
                            refused_in_a_row=self.refusals[token_key])


def seconds_header(seconds: float, time_scale: float) -> str:
    """Whole seconds as Pipedrive sends them; fractional under a time scale, so clients wait the scaled time."""
    if time_scale == 1.0:
        return str(max(math.ceil(seconds), 1))
    return f"{max(seconds, 0.001):.3f}"
