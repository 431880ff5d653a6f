"""Request counters behind GET /_sandbox/stats; keys appear only as fingerprints."""

from __future__ import annotations

import hashlib
import threading
import time
from collections import Counter
from datetime import UTC, datetime

MAX_LOG_ENTRIES = 200_000


def key_fingerprint(api_key: str | None) -> str:
    """A short stable name for a key that does not reveal it."""
    if not api_key:
        return "none"
    return "key-" + hashlib.sha256(api_key.encode()).hexdigest()[:10]


def _iso(stamp: float | None) -> str | None:
    if stamp is None:
        return None
    return datetime.fromtimestamp(stamp, UTC).isoformat(timespec="milliseconds")


class Stats:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self._requests = 0
            self._by_key: Counter[str] = Counter()
            self._status_counts: Counter[str] = Counter()
            self._by_resource: Counter[str] = Counter()
            self._pages: list[dict] = []
            self._log: list[dict] = []
            self._blob_requests = 0
            self._blob_status_counts: Counter[str] = Counter()
            self._first: float | None = None
            self._last: float | None = None

    def record_request(self, *, api_key: str | None, resource: str | None, status: int) -> None:
        now = time.time()
        with self._lock:
            self._requests += 1
            fingerprint = key_fingerprint(api_key)
            self._by_key[fingerprint] += 1
            self._status_counts[str(status)] += 1
            if resource:
                self._by_resource[resource] += 1
            self._first = now if self._first is None else self._first
            self._last = now
            if len(self._log) < MAX_LOG_ENTRIES:
                self._log.append({"at": now, "key": fingerprint, "resource": resource, "status": status})

    def record_page(
        self, *, api_key: str, resource: str, page: int, page_size: int, rows: int, repeated: int,
        filters: list[str], ignored_filters: int,
    ) -> None:
        """One list page served; filters as "attribute:operator" only, since values may be patient data."""
        with self._lock:
            if len(self._pages) < MAX_LOG_ENTRIES:
                self._pages.append(
                    {
                        "at": time.time(),
                        "key": key_fingerprint(api_key),
                        "resource": resource,
                        "page": page,
                        "page_size": page_size,
                        "rows": rows,
                        "repeated": repeated,
                        "filters": filters,
                        "ignored_filters": ignored_filters,
                    }
                )

    def record_blob(self, status: int) -> None:
        with self._lock:
            self._blob_requests += 1
            self._blob_status_counts[str(status)] += 1

    def snapshot(self) -> dict:
        with self._lock:
            return {
                "requests": self._requests,
                "by_key": dict(self._by_key),
                "status_counts": dict(self._status_counts),
                "by_resource": dict(self._by_resource),
                "pages": list(self._pages),
                "log": list(self._log),
                "blob_requests": self._blob_requests,
                "blob_status_counts": dict(self._blob_status_counts),
                "first_request_at": _iso(self._first),
                "last_request_at": _iso(self._last),
            }
