"""Burst window, daily budget, token costs from the spec, headers and faults."""

from __future__ import annotations

import time

import pytest
import requests

pytestmark = pytest.mark.paced  # measures a pace: scripts/test.sh runs it with no other suite beside it

BURST_HEADERS = ("x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset", "x-daily-requests-left",
                 "x-daily-ratelimit-token-limit", "x-daily-ratelimit-token-remaining")


def test_lite_burst_allows_20_per_window_then_429(pipedrive_sandbox_factory):
    # Time scale 2: the 2-second window lasts 1 s, so 25 quick requests overflow it.
    sandbox = pipedrive_sandbox_factory(plan="lite", time_scale=2.0)
    statuses, remaining = [], []
    started = time.monotonic()
    for _ in range(25):
        response = sandbox.get("/api/v1/users/me")
        statuses.append(response.status_code)
        remaining.append(int(response.headers["x-ratelimit-remaining"]))
    elapsed = time.monotonic() - started
    if elapsed >= 1.0:
        pytest.skip(f"machine too slow to send 25 requests inside one 1 s window ({elapsed:.2f} s)")
    assert statuses[:20] == [200] * 20
    assert statuses[20:] == [429] * 5
    assert remaining[:20] == list(range(19, -1, -1))
    refused = sandbox.get("/api/v1/users/me")
    assert refused.status_code == 429
    assert refused.json() == {"success": False, "error": "Request over limit", "errorCode": 429,
                              "error_info": refused.json()["error_info"], "data": None, "additional_data": None}
    time.sleep(float(refused.headers["x-ratelimit-reset"]) + 0.05)
    assert sandbox.get("/api/v1/users/me").status_code == 200
    counters = sandbox.counters()
    assert counters["status_429"] == 6
    assert counters["tokens_used"] == 21 * 2  # GET /users/me costs 2; refused requests are free


def test_burst_limit_follows_plan(pipedrive_sandbox_factory):
    sandbox = pipedrive_sandbox_factory(plan="growth")
    assert sandbox.get("/api/v1/users/me").headers["x-ratelimit-limit"] == "40"
    sandbox.configure(plan="ultimate")
    assert sandbox.get("/api/v1/users/me").headers["x-ratelimit-limit"] == "120"


def test_search_has_its_own_smaller_window(pipedrive_sandbox_factory):
    sandbox = pipedrive_sandbox_factory(plan="premium", time_scale=1.0)
    response = sandbox.get("/api/v2/persons/search", params={"term": "nobody@example.test", "fields": "email",
                                                             "exact_match": "true"})
    assert response.headers["x-ratelimit-limit"] == "10"
    statuses = [sandbox.get("/api/v2/itemSearch/field", params={
        "entity_type": "person", "field": "name", "term": "x"}).status_code for _ in range(12)]
    assert statuses.count(429) >= 2
    assert sandbox.get("/api/v2/persons").status_code == 200  # the general window is separate


def test_headers_on_every_api_response_and_daily_budget(pipedrive_sandbox_factory):
    sandbox = pipedrive_sandbox_factory(plan="growth", seats=4)
    response = sandbox.get("/api/v2/persons")
    for header in BURST_HEADERS:
        assert header in response.headers
    assert response.headers["x-daily-ratelimit-token-limit"] == str(30_000 * 2 * 4)
    assert response.headers["x-daily-ratelimit-token-remaining"] == str(30_000 * 2 * 4 - 10)


def test_daily_budget_exhaustion_and_reset(pipedrive_sandbox_factory):
    # A day of 86,400 s / 20,000 = 4.32 s.
    sandbox = pipedrive_sandbox_factory(daily_budget=25, time_scale=20_000.0)
    sandbox.configure(time_scale=1.0)  # hold the day still while spending the budget
    assert sandbox.get("/api/v2/persons").status_code == 200  # 10
    assert sandbox.get("/api/v2/persons").status_code == 200  # 20
    refused = sandbox.get("/api/v2/persons")  # 30 > 25
    assert refused.status_code == 429 and refused.json()["errorCode"] == 429
    assert refused.headers["x-daily-ratelimit-token-remaining"] == "5"
    assert sandbox.get("/api/v2/pipelines/1").status_code == 200  # 1 token still fits
    assert sandbox.counters()["daily_remaining"] == 4
    sandbox.reset_counters()
    assert sandbox.get("/api/v2/persons").status_code == 200


def test_day_rolls_over_under_time_scale(pipedrive_sandbox_factory):
    sandbox = pipedrive_sandbox_factory(daily_budget=10, time_scale=200_000.0)  # a day lasts 0.432 s
    sandbox.reset_counters()
    assert sandbox.get("/api/v2/persons").status_code == 200
    time.sleep(0.5)
    assert sandbox.get("/api/v2/persons").status_code == 200


def test_costs_come_from_x_token_cost(pipedrive_sandbox, spec_costs):
    sandbox = pipedrive_sandbox
    sandbox.reset_counters()
    person = sandbox.request("POST", "/api/v2/persons", json={"name": "Cost Check"}).json()["data"]
    sandbox.get(f"/api/v2/persons/{person['id']}")
    sandbox.get("/api/v2/persons")
    sandbox.request("DELETE", f"/api/v2/persons/{person['id']}")
    sandbox.request("POST", "/api/v1/notes", json={"content": "x", "deal_id": 1})
    sandbox.get("/api/v1/users")
    sandbox.get("/api/v1/users/find", params={"term": "admin"})
    log = sandbox.requests_log()
    expected = [spec_costs[(v, m, p)] for v, m, p in [
        ("v2", "POST", "/persons"), ("v2", "GET", "/persons/{id}"), ("v2", "GET", "/persons"),
        ("v2", "DELETE", "/persons/{id}"), ("v1", "POST", "/notes"), ("v1", "GET", "/users"),
        ("v1", "GET", "/users/find")]]
    assert [entry["cost"] for entry in log] == expected == [5, 1, 10, 3, 10, 20, 40]
    assert sandbox.counters()["tokens_used"] == sum(expected)


def test_builtin_cost_table_matches_the_specs(spec_costs):
    from pipedrive_sandbox.spec import FALLBACK_COSTS

    mismatched = {key: (cost, spec_costs.get(key)) for key, cost in FALLBACK_COSTS.items()
                  if spec_costs.get(key) != cost}
    assert mismatched == {}


def test_scripted_faults(pipedrive_sandbox_factory):
    sandbox = pipedrive_sandbox_factory(stall_seconds=0.3)
    sandbox.configure(script_faults=["5xx", "429", "drop", "stall"])
    first = sandbox.get("/api/v2/persons")
    assert first.status_code == 503 and first.json()["success"] is False
    assert sandbox.get("/api/v2/persons").status_code == 429
    with pytest.raises(requests.exceptions.RequestException):
        sandbox.get("/api/v2/persons")
    started = time.monotonic()
    assert sandbox.get("/api/v2/persons").status_code == 200
    assert time.monotonic() - started >= 0.3
    assert sandbox.get("/api/v2/persons").status_code == 200
    assert sandbox.counters()["faults"] == {"5xx": 1, "429": 1, "drop": 1, "stall": 1}


def test_random_faults_by_probability(pipedrive_sandbox_factory):
    sandbox = pipedrive_sandbox_factory(fault_5xx=0.5, seed=3)
    sandbox.configure(rate_limits=False)
    statuses = [sandbox.get("/api/v1/users/me").status_code for _ in range(60)]
    assert 10 < statuses.count(503) < 50 and statuses.count(200) == 60 - statuses.count(503)
    sandbox.configure(fault_5xx=0.0)
    assert {sandbox.get("/api/v1/users/me").status_code for _ in range(5)} == {200}


def test_bad_runtime_config_is_refused(pipedrive_sandbox):
    response = pipedrive_sandbox.http.patch(f"{pipedrive_sandbox.base_url}/_sandbox/config", json={"plan": "gold"})
    assert response.status_code == 400
    response = pipedrive_sandbox.http.patch(f"{pipedrive_sandbox.base_url}/_sandbox/config", json={"nope": 1})
    assert response.status_code == 400


def test_hammering_after_429_gets_cloudflare_403_when_enabled(pipedrive_sandbox_factory):
    sandbox = pipedrive_sandbox_factory(daily_budget=2)
    sandbox.configure(cloudflare_after=3, time_scale=1.0)
    assert sandbox.get("/api/v1/users/me").status_code == 200  # spends the whole budget
    statuses = [sandbox.get("/api/v1/users/me").status_code for _ in range(5)]
    assert statuses == [429, 429, 429, 403, 403]
    blocked = sandbox.get("/api/v1/users/me")
    assert blocked.headers["content-type"].startswith("text/html") and "Cloudflare" in blocked.text
