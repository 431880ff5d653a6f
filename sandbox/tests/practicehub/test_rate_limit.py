"""Token-bucket rate limit: 429s with and without Retry-After, per account or per key, real pacing."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from practicehub_sandbox.ratelimit import RateLimiter, retry_after_seconds

from .helpers import api_get

pytestmark = pytest.mark.paced  # measures a pace: scripts/test.sh runs it with no other suite beside it


def test_back_to_back_requests_get_429_with_retry_after(practicehub_sandbox_factory):
    sandbox = practicehub_sandbox_factory(rate=0.5, burst=1)
    assert api_get(sandbox, "users").status_code == 200
    refused = api_get(sandbox, "users")
    assert refused.status_code == 429
    assert refused.json() == {"message": "Too many requests"}
    assert refused.headers["Retry-After"] == "2"  # 0.5/s: a token in just under 2 s, rounded up
    assert sandbox.stats()["status_counts"] == {"200": 1, "429": 1}


def test_retry_after_can_be_switched_off(practicehub_sandbox_factory):
    sandbox = practicehub_sandbox_factory(rate=1.0, burst=1, retry_after=False)
    api_get(sandbox, "users")
    refused = api_get(sandbox, "users")
    assert refused.status_code == 429
    assert "Retry-After" not in refused.headers


def test_account_scope_shares_one_bucket_between_keys(practicehub_sandbox_factory):
    sandbox = practicehub_sandbox_factory(api_keys=("key-a", "key-b"), rate=0.5, burst=1, rate_scope="account")
    assert api_get(sandbox, "users", key="key-a").status_code == 200
    assert api_get(sandbox, "users", key="key-b").status_code == 429


def test_key_scope_gives_each_key_its_own_bucket(practicehub_sandbox_factory):
    sandbox = practicehub_sandbox_factory(api_keys=("key-a", "key-b"), rate=0.5, burst=1, rate_scope="key")
    assert api_get(sandbox, "users", key="key-a").status_code == 200
    assert api_get(sandbox, "users", key="key-b").status_code == 200
    assert api_get(sandbox, "users", key="key-a").status_code == 429
    by_key = sandbox.stats()["by_key"]
    assert by_key == {sandbox.fingerprint("key-a"): 2, sandbox.fingerprint("key-b"): 1}
    assert "key-a" not in by_key and "key-b" not in by_key, "keys appear only as fingerprints"


def test_pacing_at_20_per_second(practicehub_sandbox_factory):
    """Four clients hammering for 1 s at rate 20/s, burst 1: about 20 get through, never more."""
    sandbox = practicehub_sandbox_factory(rate=20.0, burst=1)

    def hammer(_):
        statuses, started = [], time.monotonic()
        while time.monotonic() - started < 1.0:
            statuses.append(api_get(sandbox, "users").status_code)
        return statuses

    with ThreadPoolExecutor(4) as pool:
        statuses = [s for batch in pool.map(hammer, range(4)) for s in batch]
    granted = [entry["at"] for entry in sandbox.stats()["log"] if entry["status"] == 200]
    assert statuses.count(429) > 0
    assert len(granted) == statuses.count(200)
    assert len(granted) <= 1 + 20.0 * (granted[-1] - granted[0]) + 1e-6
    assert len(granted) >= 10


def test_requests_paced_at_the_rate_all_succeed(practicehub_sandbox_factory):
    sandbox = practicehub_sandbox_factory(rate=20.0, burst=1)
    statuses = []
    for _ in range(10):
        statuses.append(api_get(sandbox, "users").status_code)
        time.sleep(0.06)
    assert statuses == [200] * 10


def test_burst_allows_that_many_back_to_back(practicehub_sandbox_factory):
    sandbox = practicehub_sandbox_factory(rate=0.2, burst=3)
    assert [api_get(sandbox, "users").status_code for _ in range(4)] == [200, 200, 200, 429]


def test_rate_can_change_at_runtime(practicehub_sandbox_factory):
    sandbox = practicehub_sandbox_factory(rate=0.2, burst=1)
    api_get(sandbox, "users")
    assert api_get(sandbox, "users").status_code == 429
    sandbox.configure(rate=500.0, burst=100)
    assert all(api_get(sandbox, "users").status_code == 200 for _ in range(20))


def test_token_bucket_arithmetic_with_a_fake_clock():
    now = [100.0]
    limiter = RateLimiter(rate=2.0, burst=2, scope="account", clock=lambda: now[0])
    assert [limiter.acquire("k") for _ in range(2)] == [0.0, 0.0]
    assert limiter.acquire("k") == 0.5
    now[0] += 0.5
    assert limiter.acquire("k") == 0.0
    assert retry_after_seconds(0.01) == 1 and retry_after_seconds(1.2) == 2
