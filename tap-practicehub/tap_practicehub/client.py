"""Base stream: reads one resource in ascending ``updated`` windows, checks filters, checkpoints each window."""

from __future__ import annotations

import math
import threading
import time
import typing as t
from concurrent.futures import Future
from functools import cached_property
from importlib import resources

from singer_sdk import SchemaDirectory, StreamSchema
from singer_sdk.exceptions import FatalAPIError
from singer_sdk.streams import RESTStream

from tap_practicehub.api import Page, PracticeHubAPI
from tap_practicehub.sample import first_records
from tap_practicehub.sdk_compat import NO_TYPE_CONFORMANCE, CheckpointBookmarks, tap_of
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


class StreamsTap(t.Protocol):
    """What a stream uses of its tap (`tap.TapPracticeHub` provides it). Declared here so that the imports
    run one way, tap → streams → client: the streams never import the tap that creates them."""

    @property
    def base_url(self) -> str: ...

    @property
    def api(self) -> PracticeHubAPI: ...

    def take_prefetched(self, name: str) -> tuple[bool, WindowStart | None]: ...

    def prefetch_after(self, stream: PracticeHubStream) -> None: ...

    def wait_for(self, future: Future) -> Page: ...


class PracticeHubStream(CheckpointBookmarks, RESTStream):
    """One PracticeHub list resource (``GET /api/<name>``)."""

    primary_keys: t.ClassVar[list[str]] = ["id"]
    replication_key = REPLICATION_KEY
    is_sorted = False  # no documented sort order: resumability comes from windows, not record order
    # Records are the API's JSON as parsed: nothing to convert. ``post_process`` drops what the schema lacks.
    TYPE_CONFORMANCE_LEVEL = NO_TYPE_CONFORMANCE

    @property
    def tap(self) -> StreamsTap:
        return t.cast(StreamsTap, tap_of(self))

    @property
    def url_base(self) -> str:
        return self.tap.base_url

    @property
    def path(self) -> str:  # type: ignore[override]
        return f"/{self.name}"

    schema = StreamSchema(SchemaDirectory(SCHEMAS_DIR))  # schemas/<stream name>.json

    @property
    def api(self) -> PracticeHubAPI:
        return self.tap.api

    def post_process(self, row: dict, context: Context | None = None) -> dict | None:  # noqa: ARG002
        """Keep the properties the schema declares, as the SDK's conformance would; warn once per new name."""
        known = self._known_properties
        if row.keys() <= known:
            return row
        unknown = sorted(row.keys() - known)
        if not self._warned_properties.issuperset(unknown):
            self._warned_properties.update(unknown)
            self.logger.warning("%s: properties %s are not in the schema; left out", self.name, unknown)
        return {name: value for name, value in row.items() if name in known}

    @cached_property
    def _known_properties(self) -> frozenset[str]:
        return frozenset(self.schema.get("properties", {}))

    @cached_property
    def _warned_properties(self) -> set[str]:
        return set()

    # State: the bookmark is the end of the last completed window, written by ``_checkpoint`` (records never
    # move it: sdk_compat.CheckpointBookmarks).

    def _checkpoint(self, window: Window, context: Context | None) -> None:
        state = self.get_context_state(context)
        state["replication_key"] = REPLICATION_KEY
        state["replication_key_value"] = format_api(window.end)
        self.write_state_now()

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

    def initial_window(self, context: Context | None) -> Window | None:
        """Everything from the bookmark (or start_date) to now; None when the bookmark is in the future."""
        upper = account_now(self.config.get("timezone", "UTC"))
        lower = self._lower_bound(context)
        if lower is not None and lower > upper:
            self.logger.info("%s: bookmark %s is in the future; nothing to read", self.name, format_api(lower))
            return None
        return Window(lower, upper)

    def start_window(self, window: Window) -> WindowStart:
        return WindowStart(self, window)

    def _splits(self, window: Window, first: Page) -> bool:
        """Too many rows for one checkpoint: the window is read as two halves instead."""
        return first.total_entries > self._window_limit and window.can_split()

    @cached_property
    def _window_limit(self) -> int:
        return max(int(self.config.get("window_records", 5000)), int(self.config.get("page_size", 100)))

    def _page_requests(self, window: Window, total_entries: int, start_page: int) -> list[Future]:
        last_page = max(1, math.ceil(total_entries / int(self.config.get("page_size", 100))))
        return [self.api.submit(self.path, self._params(window, n)) for n in range(start_page, last_page + 1)]

    def get_records(self, context: Context | None) -> t.Iterable[dict]:
        if self.config.get("sample_records"):
            yield from first_records(self.api, self.path, int(self.config["sample_records"]))
            return
        prefetched, start = self.tap.take_prefetched(self.name) if context is None else (False, None)
        if prefetched and start is None:
            return  # its bookmark is in the future: said when it was prefetched
        if start is None:
            window = self.initial_window(context)
            if window is None:
                return
            start = self.start_window(window)
        progress = _Progress(self)
        seen: set[int] = set()
        pending = [start]  # a stack; the next window to read is last
        while pending:
            start = pending.pop()
            first = self.tap.wait_for(start.first)
            progress.count_request()
            if progress.total is None:
                progress.total = first.total_entries
            if self._splits(start.window, first):
                earlier, later = start.window.halves()
                # Both halves are read: ask for both now, so the keys work in parallel.
                pending += [self.start_window(later), self.start_window(earlier)]
                continue
            yield from self._read_window(start, first, seen, progress, pending)
            self._checkpoint(start.window, context)
        progress.finish(len(seen))

    def _read_window(self, start: WindowStart, first: Page, seen, progress, pending) -> t.Iterable[dict]:
        window = start.window
        expected = first.total_entries
        window_ids: set[int] = set()
        for attempt in range(WINDOW_REREADS + 1):
            if attempt == 0:
                pages, futures = [first], start.other_pages()
                if futures is None:
                    futures = self._page_requests(window, expected, 2)
            else:
                pages, futures = [], self._page_requests(window, expected, 1)
            if not pending:  # keep the keys busy across the change of stream too
                self.tap.prefetch_after(self)
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


class WindowStart:
    """A window's first page, asked for ahead of the reader; once it tells the window's size, the window's
    other pages are asked for at once (from the worker that got the answer), not when the reader arrives."""

    def __init__(self, stream: PracticeHubStream, window: Window) -> None:
        self.window = window
        self._others: list[Future] | None = None
        self._settled = threading.Event()
        self.first = stream.api.submit(stream.path, stream._params(window, 1))
        self.first.add_done_callback(lambda future: self._ask_for_others(stream, future))

    def _ask_for_others(self, stream: PracticeHubStream, future: Future) -> None:
        try:
            if future.exception() is None and not stream._splits(self.window, future.result()):
                self._others = stream._page_requests(self.window, future.result().total_entries, 2)
        except Exception:  # noqa: BLE001, S110 - the reader asks for them itself and meets the error there
            pass
        finally:
            self._settled.set()

    def other_pages(self) -> list[Future] | None:
        """Pages 2..N once the first page is in; None if they could not be asked for."""
        self._settled.wait()
        return self._others


def _chain(pages: list[Page], futures: list[Future], stream: PracticeHubStream, progress) -> t.Iterable[Page]:
    """The window's pages in page order, then any further pages the last one links to."""
    last: Page | None = None
    for page in pages:
        last = page
        yield page
    for future in futures:
        last = stream.tap.wait_for(future)
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
