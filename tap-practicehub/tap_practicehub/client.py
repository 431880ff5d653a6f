"""Base stream: reads one resource in ascending ``updated`` windows, checks filters, checkpoints each window."""

from __future__ import annotations

import math
import time
import typing as t
from concurrent.futures import Future
from importlib import resources

from singer_sdk import SchemaDirectory, StreamSchema
from singer_sdk.exceptions import FatalAPIError
from singer_sdk.streams import RESTStream

from tap_practicehub.api import Page, PracticeHubAPI
from tap_practicehub.windows import Window, account_now, format_api, parse_api, start_date_to_account

if t.TYPE_CHECKING:
    from singer_sdk.helpers.types import Context

SCHEMAS_DIR = resources.files(__package__) / "schemas"
REPLICATION_KEY = "updated"
PROGRESS_LOG_SECONDS = 10.0
# Full re-reads of a window whose distinct ids fall short of total_entries (unstable paging, see API.md).
WINDOW_REREADS = 2


class FilterIgnoredError(FatalAPIError):
    """PracticeHub returned rows outside the requested filter (it silently ignores filters it cannot parse)."""


class PracticeHubStream(RESTStream):
    """One PracticeHub list resource (``GET /api/<name>``)."""

    primary_keys: t.ClassVar[list[str]] = ["id"]
    replication_key = REPLICATION_KEY
    is_sorted = False  # no documented sort order: resumability comes from windows, not record order

    @property
    def url_base(self) -> str:
        return self._tap.base_url

    @property
    def path(self) -> str:  # type: ignore[override]
        return f"/{self.name}"

    schema = StreamSchema(SchemaDirectory(SCHEMAS_DIR))  # schemas/<stream name>.json

    @property
    def api(self) -> PracticeHubAPI:
        return self._tap.api

    # State: the bookmark is the end of the last completed window, written by ``_checkpoint``.

    def _increment_stream_state(self, latest_record, *, context=None) -> None:  # noqa: ARG002
        """Records arrive unsorted, so they never move the bookmark; completed windows do."""

    def _checkpoint(self, window: Window, context: Context | None) -> None:
        state = self.get_context_state(context)
        state["replication_key"] = REPLICATION_KEY
        state["replication_key_value"] = format_api(window.end)
        self.state_manager.is_flushed = False
        self._write_state_message()

    def _lower_bound(self, context: Context | None):
        state = self.get_context_state(context)
        bookmark = state.get("replication_key_value") if state.get("replication_key") == REPLICATION_KEY else None
        if bookmark:
            try:
                return parse_api(str(bookmark))
            except ValueError as exc:
                raise FatalAPIError(
                    f"{self.name}: the state bookmark {bookmark!r} is not 'YYYY-MM-DD HH:MM:SS'; "
                    "clear this stream's state or fix it"
                ) from exc
        if self.config.get("start_date"):
            return start_date_to_account(self.config["start_date"], self.config.get("timezone", "UTC"))
        return None

    # Reading

    def _params(self, window: Window, page: int) -> dict:
        return {REPLICATION_KEY: window.filter_value(), "page": page, "page_size": self.config.get("page_size", 100)}

    def get_records(self, context: Context | None) -> t.Iterable[dict]:
        upper = account_now(self.config.get("timezone", "UTC"))
        lower = self._lower_bound(context)
        if lower is not None and lower > upper:
            self.logger.info("%s: bookmark %s is in the future; nothing to read", self.name, format_api(lower))
            return
        progress = _Progress(self)
        seen: set[int] = set()
        pending = [Window(lower, upper)]  # a stack; the next window to read is last
        first_pages: dict[Window, Future] = {}
        window_limit = max(int(self.config.get("window_records", 5000)), int(self.config.get("page_size", 100)))
        while pending:
            window = pending.pop()
            first = self._first_page(window, first_pages)
            progress.count_request()
            if progress.total is None:
                progress.total = first.total_entries
            if first.total_entries > window_limit and window.can_split():
                earlier, later = window.halves()
                pending += [later, earlier]
                continue
            yield from self._read_window(window, first, seen, progress, pending, first_pages)
            self._checkpoint(window, context)
        progress.finish(len(seen))

    def _first_page(self, window: Window, first_pages: dict[Window, Future]) -> Page:
        future = first_pages.pop(window, None) or self.api.submit(self.path, self._params(window, 1))
        return future.result()

    def _read_window(self, window, first, seen, progress, pending, first_pages) -> t.Iterable[dict]:
        page_size = int(self.config.get("page_size", 100))
        expected = first.total_entries
        window_ids: set[int] = set()
        for attempt in range(WINDOW_REREADS + 1):
            pages = [first] if attempt == 0 else []
            last_page = max(1, math.ceil(expected / page_size))
            start_page = 2 if attempt == 0 else 1
            futures = [self.api.submit(self.path, self._params(window, n)) for n in range(start_page, last_page + 1)]
            if pending and pending[-1] not in first_pages:  # keep the other keys busy across the window change
                first_pages[pending[-1]] = self.api.submit(self.path, self._params(pending[-1], 1))
            for page in _chain(pages, futures, self, progress):
                for row in page.rows:
                    record_id = row.get("id")
                    self._verify_filtered(row, window)
                    window_ids.add(record_id)
                    if record_id in seen:
                        continue  # unstable paging (or a window boundary) repeats rows: emit each id once
                    seen.add(record_id)
                    progress.count_record()
                    yield row
            if len(window_ids) >= expected:
                return
            self.logger.warning(
                "%s: window %s returned %d distinct ids of %d announced; re-reading it",
                self.name, window.describe(), len(window_ids), expected,
            )
            first = None
        self.logger.warning(
            "%s: window %s still has %d distinct ids of %d announced after %d re-reads (records deleted "
            "during the run?)",
            self.name, window.describe(), len(window_ids), expected, WINDOW_REREADS,
        )

    def _verify_filtered(self, row: dict, window: Window) -> None:
        if not self.config.get("verify_filters", True):
            return
        updated = row.get(REPLICATION_KEY)
        if isinstance(updated, str) and window.contains(updated):
            return
        raise FilterIgnoredError(
            f"{self.name}: PracticeHub returned a row (id {row.get('id')}, {REPLICATION_KEY}={updated!r}) outside "
            f"the requested filter {REPLICATION_KEY}={window.filter_value()}. The API silently ignores filters it "
            "cannot parse, so this run would re-read everything; stopping instead. Check the `timezone` setting "
            "and the API's filter syntax, or set `verify_filters: false` to accept it."
        )


def _chain(pages: list[Page], futures: list[Future], stream: PracticeHubStream, progress) -> t.Iterable[Page]:
    """The window's pages in page order, then any further pages the last one links to."""
    last: Page | None = None
    for page in pages:
        last = page
        yield page
    for future in futures:
        last = future.result()
        progress.count_request()
        yield last
    while last is not None and last.next_url:  # more pages than total_entries announced: follow the links
        last = stream.api.get(last.next_url)
        progress.count_request()
        yield last


class _Progress:
    """Pages, records and an ETA in the log, every ``PROGRESS_LOG_SECONDS``: counts only, never record data."""

    def __init__(self, stream: PracticeHubStream) -> None:
        self.stream = stream
        self.total: int | None = None
        self.records = 0
        self.requests = 0
        self.started = time.monotonic()
        self._logged = self.started

    def count_request(self) -> None:
        self.requests += 1
        self._maybe_log()

    def count_record(self) -> None:
        self.records += 1

    def _maybe_log(self) -> None:
        now = time.monotonic()
        if now - self._logged < PROGRESS_LOG_SECONDS:
            return
        self._logged = now
        elapsed = now - self.started
        rate = self.records / elapsed if elapsed > 0 else 0.0
        remaining = max(0, (self.total or 0) - self.records)
        eta = f"{remaining / rate:.0f} s" if rate > 0 else "unknown"
        self.stream.logger.info(
            "%s: %d/%s records, %d requests (%.1f req/s), ETA %s",
            self.stream.name, self.records, self.total if self.total is not None else "?", self.requests,
            self.requests / elapsed if elapsed > 0 else 0.0, eta,
        )

    def finish(self, distinct: int) -> None:
        elapsed = time.monotonic() - self.started
        self.stream.logger.info(
            "%s: done, %d records in %d requests over %.1f s", self.stream.name, distinct, self.requests, elapsed
        )
