"""Runtime settings of a sandbox: plan, seats, time scale, budget and faults (changeable at runtime)."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field, fields
from typing import Any

# Requests per token per rolling 2-second window, by plan (API token; OAuth apps get 4x).
BURST_LIMITS = {"lite": 20, "growth": 40, "premium": 100, "ultimate": 120}
SEARCH_BURST_LIMIT = 10
DAILY_MULTIPLIERS = {"lite": 1, "growth": 2, "premium": 5, "ultimate": 7}
DAILY_BASE = 30_000
# Plan limits (support.pipedrive.com, "Usage limits in Pipedrive"): custom fields per company (all
# entities together), and open deals (with leads) per seat, never more than 300,000 on any plan.
CUSTOM_FIELD_LIMITS = {"lite": 30, "growth": 100, "premium": 300, "ultimate": 500}
OPEN_DEALS_PER_SEAT = {"lite": 2_500, "growth": 5_000, "premium": 15_000, "ultimate": 20_000}
OPEN_DEALS_CAP = 300_000
BURST_WINDOW_SECONDS = 2.0
DAY_SECONDS = 86_400.0


@dataclass
class Settings:
    plan: str = "lite"
    seats: int = 3
    time_scale: float = 1.0
    daily_budget: int | None = None  # None: 30,000 x plan multiplier x seats
    fault_5xx: float = 0.0
    fault_429: float = 0.0
    fault_drop: float = 0.0
    fault_stall: float = 0.0
    stall_seconds: float = 5.0
    rate_limits: bool = True  # False switches burst and budget checks off (headers still sent)
    plan_limits: bool = True  # False switches the custom-field and open-deal limits off
    # After this many 429s in a row, a token gets Cloudflare's 403 HTML page instead (0: never).
    cloudflare_after: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        if self.plan not in BURST_LIMITS:
            raise ValueError(f"unknown plan {self.plan!r}; choose one of {', '.join(BURST_LIMITS)}")
        if self.seats < 1:
            raise ValueError("seats must be at least 1")
        if self.cloudflare_after < 0:
            raise ValueError("cloudflare_after must be 0 (off) or more")
        if self.time_scale <= 0:
            raise ValueError("time_scale must be positive")
        for name in ("fault_5xx", "fault_429", "fault_drop", "fault_stall"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be a probability between 0 and 1")

    @property
    def burst_limit(self) -> int:
        return BURST_LIMITS[self.plan]

    @property
    def custom_field_limit(self) -> int:
        return CUSTOM_FIELD_LIMITS[self.plan]

    @property
    def open_deal_limit(self) -> int:
        return min(OPEN_DEALS_PER_SEAT[self.plan] * self.seats, OPEN_DEALS_CAP)

    @property
    def window_seconds(self) -> float:
        return BURST_WINDOW_SECONDS / self.time_scale

    @property
    def day_seconds(self) -> float:
        return DAY_SECONDS / self.time_scale

    @property
    def budget(self) -> int:
        if self.daily_budget is not None:
            return self.daily_budget
        return DAILY_BASE * DAILY_MULTIPLIERS[self.plan] * self.seats

    def update(self, changes: dict[str, Any]) -> None:
        """Apply a partial update atomically; unknown keys or bad values raise ValueError."""
        known = {f.name for f in fields(self) if f.name != "lock"}
        unknown = set(changes) - known
        if unknown:
            raise ValueError(f"unknown settings: {', '.join(sorted(unknown))}")
        with self.lock:
            before = {name: getattr(self, name) for name in changes}
            for name, value in changes.items():
                setattr(self, name, value)
            try:
                self.validate()
            except ValueError:
                for name, value in before.items():
                    setattr(self, name, value)
                raise

    def as_dict(self) -> dict[str, Any]:
        data = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "lock"}
        data.update(burst_limit=self.burst_limit, search_burst_limit=SEARCH_BURST_LIMIT,
                    window_seconds=self.window_seconds, day_seconds=self.day_seconds, budget=self.budget,
                    custom_field_limit=self.custom_field_limit, open_deal_limit=self.open_deal_limit)
        return data
