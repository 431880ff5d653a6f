"""PracticeHub HTTP: headers, one paced worker per API key, retries on 429 / 5xx / dropped connections."""

from __future__ import annotations

import logging
import queue
import random
import sys
import threading
import time
from collections import Counter
from concurrent.futures import Future
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import requests
from singer_sdk.exceptions import FatalAPIError, RetriableAPIError

from tap_practicehub.pacing import MAX_IN_FLIGHT, KeyPacer, RateScope, key_label

RETRIABLE_EXCEPTIONS = (
    requests.ConnectionError,
    requests.Timeout,
    requests.exceptions.ChunkedEncodingError,
)

WORKERS_PER_KEY = MAX_IN_FLIGHT  # each key's pacer decides how many of them have a request out


class AuthenticationError(FatalAPIError):
    """PracticeHub refused the credentials: retrying cannot help."""


@dataclass
class Page:
    """One list response."""

    total_entries: int
    rows: list[dict]
    next_url: str | None


@dataclass
class RequestStats:
    requests: int = 0
    by_status: Counter = field(default_factory=Counter)
    retries: Counter = field(default_factory=Counter)


@dataclass
class _Job:
    url: str
    params: dict | None
    future: Future


class PracticeHubAPI:
    """Sends GET requests with every configured key, paced per key or per account as ``RateScope`` decides.

    Jobs go into one queue; each key's worker thread takes the next job when its key is free, so pages
    spread over the keys while callers read results in the order they asked for them.
    """

    def __init__(
        self,
        *,
        base_url: str,
        api_keys: list[str],
        app_details: str,
        requests_per_second: float,
        pacing_margin: float = 0.02,
        rate_limit_scope: str = "auto",
        timeout: float = 60.0,
        max_retries: int = 8,
        retry_base_seconds: float = 1.0,
        logger: logging.Logger,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.logger = logger
        self.timeout = timeout
        self.max_retries = max_retries
        self.retry_base_seconds = retry_base_seconds
        self.stats = RequestStats()
        self._stats_lock = threading.Lock()
        self._jobs: queue.Queue[_Job | None] = queue.Queue()
        self._keys = list(api_keys)
        self._app_details = app_details
        self.rate_scope = RateScope(len(self._keys), requests_per_second, pacing_margin, rate_limit_scope, logger)
        self._fatal: BaseException | None = None
        # A paced worker waking from its sleep must get the interpreter now, not after the main thread's
        # 5 ms slice: otherwise sends drift by milliseconds, which matters at time-scaled rates.
        sys.setswitchinterval(min(sys.getswitchinterval(), 0.0005))
        self._workers = [
            threading.Thread(target=self._work, args=(index,), name=f"practicehub-{key_label(index)}-{n}", daemon=True)
            for index in range(len(self._keys))
            for n in range(WORKERS_PER_KEY)
        ]
        for worker in self._workers:
            worker.start()

    @property
    def key_count(self) -> int:
        return len(self._keys)

    def submit(self, path_or_url: str, params: dict | None = None) -> Future:
        """Queue a GET of ``/api/<path>`` (or of a full ``next`` link); the future resolves to a ``Page``."""
        if self._fatal is not None:
            raise self._fatal
        url = path_or_url if "://" in path_or_url else f"{self.base_url}/{path_or_url.lstrip('/')}"
        future: Future = Future()
        self._jobs.put(_Job(url, params, future))
        return future

    def get(self, path_or_url: str, params: dict | None = None) -> Page:
        return self.submit(path_or_url, params).result()

    def close(self) -> None:
        for _ in self._workers:
            self._jobs.put(None)

    # Worker side

    def _work(self, index: int) -> None:
        session = requests.Session()
        session.headers.update(
            {"x-practicehub-key": self._keys[index], "x-app-details": self._app_details, "Accept": "application/json"}
        )
        while True:
            pacer = self.rate_scope.pacer_for(index)
            pacer.reserve()  # take a job only when this key may send it: the other keys take the rest
            try:
                job = self._jobs.get()
                if job is None:
                    return
                if not job.future.set_running_or_notify_cancel():
                    continue
                if self._fatal is not None:
                    job.future.set_exception(self._fatal)
                    continue
                try:
                    job.future.set_result(self._fetch(session, index, job.url, job.params))
                except BaseException as exc:  # handed to the caller, who decides
                    if isinstance(exc, AuthenticationError):
                        self._fatal = exc
                    job.future.set_exception(exc)
            finally:
                pacer.release()

    def _count(self, status: str, retry_reason: str | None = None) -> None:
        with self._stats_lock:
            self.stats.requests += 1
            self.stats.by_status[status] += 1
            if retry_reason:
                self.stats.retries[retry_reason] += 1

    def _fetch(self, session: requests.Session, index: int, url: str, params: dict | None) -> Page:
        label = key_label(index)
        where = urlsplit(url).path  # no query string: it may carry filter values, never the key, but keep logs short
        for attempt in range(self.max_retries + 1):
            send = self.rate_scope.send(index)
            sent = time.monotonic()
            try:
                response = session.get(url, params=params, timeout=self.timeout)
            except RETRIABLE_EXCEPTIONS as exc:
                self._count("connection-error", "connection")
                reason, delay = f"{type(exc).__name__}", self._backoff(attempt, send.pacer)
            else:
                status = response.status_code
                if status == 200:
                    try:
                        page = _parse_page(response.json())
                    except ValueError as exc:  # a truncated or non-JSON body: the server hiccupped
                        self._count("200", "bad-body")
                        reason, delay = f"unreadable body ({exc})", self._backoff(attempt, send.pacer)
                    else:
                        self._count("200")
                        self.rate_scope.accepted(send, time.monotonic() - sent)
                        return page
                elif status == 429:
                    self._count("429", "429")
                    retry_after = _retry_after_seconds(response)
                    delay = retry_after if retry_after is not None else self._backoff(attempt, send.pacer)
                    self.rate_scope.refused(send, delay)
                    reason = "HTTP 429" + (f" (Retry-After {retry_after:g} s)" if retry_after is not None else "")
                elif status in (401, 403):
                    self._count(str(status))
                    raise AuthenticationError(_auth_message(status, label, where, response))
                elif status >= 500:
                    self._count(str(status), "5xx")
                    reason, delay = f"HTTP {status}", self._backoff(attempt, send.pacer)
                else:
                    self._count(str(status))
                    raise FatalAPIError(f"PracticeHub answered HTTP {status} on {where}: {_message(response)}")
            if attempt == self.max_retries:
                break
            self.logger.warning(
                "%s on %s with %s; retry %d/%d in %.2f s", reason, where, label, attempt + 1, self.max_retries, delay
            )
            time.sleep(delay)
        raise RetriableAPIError(f"Giving up on {where} after {self.max_retries + 1} attempts: {reason}")

    def _backoff(self, attempt: int, pacer: KeyPacer) -> float:
        """Exponential back-off with jitter, never shorter than one pacing interval."""
        base = max(self.retry_base_seconds, pacer.interval)
        return min(60.0, base * 2**attempt) * random.uniform(0.5, 1.0)


def _parse_page(body: object) -> Page:
    if not isinstance(body, dict) or not isinstance(body.get("data"), list):
        raise ValueError("expected an object with a 'data' list")
    links = body.get("links") or {}
    total = body.get("total_entries")
    return Page(
        total_entries=int(total) if total is not None else len(body["data"]),
        rows=body["data"],
        next_url=links.get("next") or None,
    )


def _retry_after_seconds(response: requests.Response) -> float | None:
    value = response.headers.get("Retry-After")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None  # an HTTP-date: fall back to our own back-off


def _message(response: requests.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:200]
    if isinstance(body, dict) and body.get("message"):
        return str(body["message"])[:200]
    return str(body)[:200]


def _auth_message(status: int, label: str, where: str, response: requests.Response) -> str:
    return (
        f"PracticeHub refused {label} with HTTP {status} on {where} ({_message(response)}). "
        "Check the `api_keys` setting (each key must be a valid PracticeHub API key for this account) "
        "and the `app_details` setting (`<app name>=<contact email>`)."
    )
