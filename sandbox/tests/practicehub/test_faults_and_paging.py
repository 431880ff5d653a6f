"""Unstable paging repeats rows; injected 5xx, dropped connections and slow answers."""

from __future__ import annotations

import time

import pytest
import requests

from .helpers import all_rows, api_get


def test_unstable_paging_repeats_rows_but_loses_none(practicehub_sandbox_factory):
    sandbox = practicehub_sandbox_factory(dataset="demo", unstable_paging=0.5)
    rows = all_rows(sandbox, "appointments", page_size=50)
    ids = [r["id"] for r in rows]
    expected = {a["id"] for a in sandbox.dataset["appointments"]}
    assert set(ids) == expected
    assert len(ids) > len(expected), "some rows were served twice"
    pages = sandbox.stats()["pages"]
    assert any(p["repeated"] for p in pages) and not all(p["repeated"] for p in pages[1:])


def test_unstable_paging_is_deterministic_from_the_seed(practicehub_sandbox_factory):
    first = practicehub_sandbox_factory(dataset="demo", unstable_paging=0.5, seed=3)
    second = practicehub_sandbox_factory(dataset="demo", unstable_paging=0.5, seed=3)
    assert [r["id"] for r in all_rows(first, "invoices")] == [r["id"] for r in all_rows(second, "invoices")]


def test_stable_paging_by_default(practicehub_sandbox_factory):
    sandbox = practicehub_sandbox_factory(dataset="demo")
    ids = [r["id"] for r in all_rows(sandbox, "appointments", page_size=50)]
    assert len(ids) == len(set(ids)) == len(sandbox.dataset["appointments"])


def test_every_request_fails_with_5xx_at_fraction_one(practicehub_sandbox_factory):
    sandbox = practicehub_sandbox_factory(fault_5xx=1.0)
    responses = [api_get(sandbox, "patients") for _ in range(5)]
    assert all(r.status_code in (500, 502, 503) for r in responses)
    assert all(r.json()["message"] for r in responses)


def test_5xx_fraction_is_roughly_honoured_and_deterministic(practicehub_sandbox_factory):
    def statuses(seed):
        sandbox = practicehub_sandbox_factory(fault_5xx=0.3, seed=seed)
        return [api_get(sandbox, "users").status_code for _ in range(60)]

    first = statuses(7)
    assert first == statuses(7)
    failures = sum(s >= 500 for s in first)
    assert 8 <= failures <= 30


def test_dropped_connection_sends_no_response(practicehub_sandbox_factory):
    sandbox = practicehub_sandbox_factory(fault_drop=1.0)
    with pytest.raises(requests.exceptions.ConnectionError):
        api_get(sandbox, "patients")
    assert sandbox.stats()["status_counts"] == {"dropped": 1}
    sandbox.configure(fault_drop=0.0)
    assert api_get(sandbox, "patients").status_code == 200


def test_slow_answers_take_slow_seconds(practicehub_sandbox_factory):
    sandbox = practicehub_sandbox_factory(fault_slow=1.0, slow_seconds=0.4)
    started = time.monotonic()
    assert api_get(sandbox, "users").status_code == 200
    assert time.monotonic() - started >= 0.4
    sandbox.configure(fault_slow=0.0)
    started = time.monotonic()
    api_get(sandbox, "users")
    assert time.monotonic() - started < 0.4


def test_config_rejects_unknown_or_bad_settings(practicehub_sandbox):
    response = requests.patch(f"{practicehub_sandbox.root_url}/_sandbox/config", json={"api_keys": "x"}, timeout=10)
    assert response.status_code == 400
    response = requests.patch(f"{practicehub_sandbox.root_url}/_sandbox/config", json={"fault_5xx": 2}, timeout=10)
    assert response.status_code == 400
