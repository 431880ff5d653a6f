"""Token-bucket rate limit, shared by the whole account or kept per API key."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable


class TokenBucket:
    def __init__(self, rate: float, burst: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = float(rate)
        self.burst = int(burst)
        self._clock = clock
        self._tokens = float(burst)
        self._stamp = clock()

    def take(self) -> float:
        """Take one token: 0.0 when granted, else the seconds until one is available."""
        now = self._clock()
        self._tokens = min(self.burst, self._tokens + (now - self._stamp) * self.rate)
        self._stamp = now
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return 0.0
        return (1.0 - self._tokens) / self.rate


class RateLimiter:
    """Grants or refuses requests; ``scope`` 'account' makes every key share one bucket."""

    def __init__(self, rate: float, burst: int, scope: str, clock: Callable[[], float] = time.monotonic):
        self._clock = clock
        self._lock = threading.Lock()
        self.configure(rate, burst, scope)

    def configure(self, rate: float, burst: int, scope: str) -> None:
        with self._lock:
            self.rate, self.burst, self.scope = float(rate), int(burst), scope
            self._buckets: dict[str, TokenBucket] = {}

    def acquire(self, api_key: str) -> float:
        """0.0 when the request may proceed, else seconds until the caller's next token."""
        bucket_key = api_key if self.scope == "key" else "account"
        with self._lock:
            bucket = self._buckets.get(bucket_key)
            if bucket is None:
                bucket = self._buckets[bucket_key] = TokenBucket(self.rate, self.burst, self._clock)
            return bucket.take()


def retry_after_seconds(wait: float) -> int:
    """Retry-After value: whole seconds until a token, rounded up, at least 1."""
    return max(1, math.ceil(wait))
