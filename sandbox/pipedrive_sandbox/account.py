"""One sandbox account: its storage, settings, limits, faults, request log and counters."""

from __future__ import annotations

import hashlib
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from .config import Settings
from .faults import Faults
from .limits import RateLimiter
from .seed import initialise
from .spec import SpecCatalog
from .store import Store


def fingerprint(token: str) -> str:
    """A short, non-reversible label for a token, safe to log."""
    return hashlib.sha256(token.encode()).hexdigest()[:12]


@dataclass
class Counters:
    requests: int = 0
    status_429: int = 0
    tokens_used: int = 0
    by_status: Counter = field(default_factory=Counter)
    by_operation: Counter = field(default_factory=Counter)
    faults: Counter = field(default_factory=Counter)


class Account:
    def __init__(self, store: Store, settings: Settings, catalog: SpecCatalog, api_token: str,
                 users: list[dict[str, Any]], fixture: str, seed: int, user_tokens: dict[str, str]):
        self.store = store
        self.settings = settings
        self.catalog = catalog
        self.limiter = RateLimiter(settings)
        self.faults = Faults(settings, seed)
        self.lock = threading.Lock()
        self.log: list[dict[str, Any]] = []  # every API request; `since` indexes stay valid
        self.counters = Counters()
        initialise(store, api_token, users, fixture, seed, user_tokens)

    def record(self, method: str, path: str, status: int, cost: int, token: str | None, operation: str | None,
               fault: str | None = None) -> None:
        with self.lock:
            self.counters.requests += 1
            self.counters.by_status[status] += 1
            if status == 429:
                self.counters.status_429 += 1
            self.counters.tokens_used += cost
            if operation:
                self.counters.by_operation[operation] += 1
            if fault:
                self.counters.faults[fault] += 1
            self.log.append({"time": time.time(), "method": method, "path": path, "status": status, "cost": cost,
                             "operation": operation, "token": fingerprint(token) if token else None,
                             "fault": fault})

    def counters_view(self) -> dict[str, Any]:
        with self.lock:
            c = self.counters
            view = {"requests": c.requests, "status_429": c.status_429, "tokens_used": c.tokens_used,
                    "by_status": {str(k): v for k, v in sorted(c.by_status.items())},
                    "by_operation": dict(sorted(c.by_operation.items())), "faults": dict(c.faults)}
        view["daily_budget"] = self.settings.budget
        view["daily_remaining"] = self.limiter.daily_remaining()
        view["pending_faults"] = self.faults.pending()
        return view

    def reset_counters(self) -> None:
        with self.lock:
            self.counters = Counters()
            self.log.clear()
        self.limiter.reset()
