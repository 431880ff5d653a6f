"""Pipedrive HTTP client: header auth, daily budget, retries; the burst window's pacing is pacing.py's."""

from __future__ import annotations

import logging
import random
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import requests
from requests.adapters import HTTPAdapter

from target_pipedrive.api_shapes import page_maximum
from target_pipedrive.costs import CostTable
from target_pipedrive.pacing import BurstPacer, header_number

LOGGER = logging.getLogger("target_pipedrive.client")

# Requests per rolling 2-second window for an API token, by plan (Pipedrive docs).
BURST_LIMITS = {"lite": 20, "growth": 40, "premium": 100, "ultimate": 120}
PLAN_MULTIPLIERS = {"lite": 1, "growth": 2, "premium": 5, "ultimate": 7}
DAILY_TOKENS_PER_SEAT = 30_000


def daily_budget(plan: str, seats: int) -> int:
    """30,000 tokens × plan multiplier × seats."""
    return DAILY_TOKENS_PER_SEAT * PLAN_MULTIPLIERS.get(plan, 1) * max(int(seats), 1)


class PipedriveError(Exception):
    """A call Pipedrive rejected (4xx other than 429) or that kept failing."""

    def __init__(self, status: int, error: str, method: str, path: str) -> None:
        super().__init__(f"{method} {path} -> {status}: {error}")
        self.status = status
        self.error = error


class BudgetExhausted(Exception):
    """The company's daily token budget is spent: stop cleanly, resume after the reset."""


class AmbiguousWrite(Exception):
    """A create whose request may have reached Pipedrive but whose answer was lost."""


@dataclass
class CallStats:
    """Counters the report and the benchmark read."""

    calls: int = 0
    tokens: int = 0
    status_429: int = 0
    retries: int = 0
    writes: int = 0
    by_operation: dict[str, int] = field(default_factory=dict)
    # unix second → [calls, status_429, tokens]: the report's throughput chart (metrics.jsonl)
    per_second: dict[int, list[int]] = field(default_factory=dict)


class PipedriveClient:
    """One client per run; thread-safe for the loader's worker pool."""

    def __init__(
        self,
        base_url: str,
        api_token: str,
        *,
        plan: str = "lite",
        max_concurrency: int = 16,
        costs: CostTable | None = None,
        timeout: float = 60.0,
        max_tries: int = 8,
        backoff_base: float = 0.25,
        backoff_cap: float = 10.0,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.costs = costs or CostTable()
        self.timeout = timeout
        self.max_tries = max_tries
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self.pacer = BurstPacer(BURST_LIMITS.get(plan, 20), max_in_flight=max_concurrency)
        self.stats = CallStats()
        self.daily_remaining: int | None = None
        self.daily_limit: int | None = None
        self._stats_lock = threading.Lock()
        self._written = threading.local()  # per worker thread: Pipedrive's update_time after its last write
        self._session = requests.Session()
        adapter = HTTPAdapter(pool_connections=4, pool_maxsize=max(max_concurrency, 4) * 2)
        self._session.mount("http://", adapter)
        self._session.mount("https://", adapter)
        # The token travels only in this header, never in a URL that could be logged.
        self._session.headers.update({"x-api-token": api_token, "Accept": "application/json"})

    # ---- public helpers -------------------------------------------------------------------------

    def get(self, path: str, *, version: str = "v2", params: dict | None = None) -> dict:
        return self.request("GET", path, version=version, params=params)

    def take_update_time(self) -> str | None:
        """Pipedrive's `update_time` of the record this thread's last write returned (once; None if unknown).

        Kept with the ledger row: a later `update_time` means someone changed the record in Pipedrive since."""
        value, self._written.update_time = getattr(self._written, "update_time", None), None
        return value

    def list_all(self, path: str, *, version: str = "v2", params: dict | None = None) -> list[dict]:
        """Every item of a list endpoint: v2 cursor or v1 start/limit pagination, as many per page as the
        spec allows (500; v1 files lists 100)."""
        return list(self.iter_items(path, version=version, params=params))

    def iter_items(self, path: str, *, version: str = "v2", params: dict | None = None) -> Iterator[dict]:
        """The items of `list_all`, a page at a time: a whole account's list need not be held at once."""
        params = dict(params or {})
        params.setdefault("limit", page_maximum(version, path))
        while True:
            body = self.get(path, version=version, params=params)
            yield from body.get("data") or []
            extra = body.get("additional_data") or {}
            if version == "v2":
                cursor = extra.get("next_cursor")
                if not cursor:
                    return
                params["cursor"] = cursor
            else:
                pagination = extra.get("pagination") or {}
                if not pagination.get("more_items_in_collection"):
                    return
                params["start"] = pagination.get("next_start")

    def request(
        self,
        method: str,
        path: str,
        *,
        version: str = "v2",
        params: dict | None = None,
        json: Any = None,
        files: dict | None = None,
        data: dict | None = None,
        raw: bool = False,
    ) -> dict:
        """Send one call with pacing and retries; return the decoded envelope (`raw`: the answer's bytes as
        `data`, for a file download)."""
        cost = self.costs.cost(version, method, path)
        url = f"{self.base_url}/api/{version}{path}"
        is_create = method == "POST"
        if method != "GET":
            self._written.update_time = None
        for attempt in range(1, self.max_tries + 1):
            self._check_budget(cost)
            started = self.pacer.acquire()
            headers = None
            try:
                if files:
                    for handle in files.values():
                        if hasattr(handle[1], "seek"):
                            handle[1].seek(0)
                response = self._session.request(
                    method, url, params=params, json=json, files=files, data=data, timeout=self.timeout
                )
                headers = response.headers
            except requests.RequestException as exc:  # refused, reset, timed out, or cut off mid-answer
                self._count(method, path, cost=0, retried=True)
                sent = not isinstance(exc, requests.ConnectTimeout)
                if is_create and sent:
                    # The create may have landed: the caller looks it up before trying again.
                    raise AmbiguousWrite(f"{method} {version}{path}: {type(exc).__name__}") from None
            finally:
                self.pacer.release(headers, started)
            if headers is None:  # no answer: back off with the call slot free for others
                self._sleep_backoff(attempt)
                continue
            self._read_daily_headers(headers)
            self._count(method, path, cost=cost, status=response.status_code)
            if response.status_code == 429:
                if self._daily_exhausted(response, cost):
                    raise BudgetExhausted(self._budget_message())
                time.sleep(self._jitter(self.pacer.back_off_until_reset(headers), attempt))
                continue
            if response.status_code >= 500:
                self._sleep_backoff(attempt)
                continue
            if raw and response.status_code < 400:
                return {"success": True, "data": response.content}
            body = _decode(response)
            if response.status_code >= 400:
                error = str(body.get("error") or response.reason)
                if body.get("error_info"):
                    error = f"{error} ({body['error_info']})"
                raise PipedriveError(response.status_code, error, method, f"/{version}{path}")
            if method != "GET" and isinstance(body.get("data"), dict):
                self._written.update_time = body["data"].get("update_time")
            return body
        raise PipedriveError(0, f"gave up after {self.max_tries} tries", method, f"/{version}{path}")

    def close(self) -> None:
        self._session.close()

    # ---- internals ------------------------------------------------------------------------------

    def _check_budget(self, cost: int) -> None:
        if self.daily_remaining is not None and self.daily_remaining < cost:
            raise BudgetExhausted(self._budget_message())

    def _budget_message(self) -> str:
        return (
            "Pipedrive's daily token budget is spent"
            f" ({self.daily_remaining if self.daily_remaining is not None else 0} left"
            f" of {self.daily_limit or 'unknown'}). Everything written so far is in the ledger:"
            " re-run the same command after the budget resets (the server's midnight) to resume."
        )

    def _read_daily_headers(self, headers: requests.structures.CaseInsensitiveDict) -> None:
        remaining = headers.get("x-daily-ratelimit-token-remaining")
        if remaining is None:
            remaining = headers.get("x-daily-requests-left")
        limit = headers.get("x-daily-ratelimit-token-limit")
        with self._stats_lock:
            if remaining is not None and header_number(remaining) is not None:
                self.daily_remaining = int(float(remaining))
            if limit is not None and header_number(limit) is not None:
                self.daily_limit = int(float(limit))

    def _daily_exhausted(self, response: requests.Response, cost: int) -> bool:
        if self.daily_remaining is not None and self.daily_remaining < cost:
            return True
        text = response.text[:500].lower()
        return "daily" in text and ("limit" in text or "budget" in text)

    def _count(self, method: str, path: str, *, cost: int, status: int = 0, retried: bool = False) -> None:
        with self._stats_lock:
            self.stats.calls += 1
            self.stats.tokens += cost
            if status == 429:
                self.stats.status_429 += 1
            if retried or status == 429 or status >= 500:
                self.stats.retries += 1
            if method != "GET" and 200 <= status < 300:
                self.stats.writes += 1
            second = self.stats.per_second.setdefault(int(time.time()), [0, 0, 0])
            second[0] += 1
            second[1] += status == 429
            second[2] += cost
            key = f"{method} {_NUMERIC.sub('/{id}', path)}"
            self.stats.by_operation[key] = self.stats.by_operation.get(key, 0) + 1

    def _jitter(self, base: float, attempt: int) -> float:
        return max(base, 0.01) * (1 + random.random() * 0.25) + 0.01 * attempt

    def _sleep_backoff(self, attempt: int) -> None:
        delay = min(self.backoff_cap, self.backoff_base * 2 ** (attempt - 1))
        time.sleep(delay * (0.5 + random.random() / 2))


_NUMERIC = re.compile(r"/(\d+|[0-9a-f]{40})(?=/|$)")


def _decode(response: requests.Response) -> dict:
    try:
        body = response.json()
    except ValueError:
        return {"success": False, "error": f"non-JSON answer (HTTP {response.status_code})"}
    return body if isinstance(body, dict) else {"success": True, "data": body}
