"""Ascending ``updated`` windows: the unit of extraction, checkpointing and resume.

PracticeHub documents no sort order, so a stream is read as a sequence of closed time ranges on
``updated``; each completed range becomes a bookmark. Ranges are split in half (by time) until each
holds at most ``window_records`` rows, learning counts from the first page of each range.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cached_property
from zoneinfo import ZoneInfo

API_DATETIME = "%Y-%m-%d %H:%M:%S"
# Where splitting starts when neither state nor start_date gives a lower bound. The first window
# has no lower bound at all, so records older than this are still read; it only guides the split.
SPLIT_FLOOR = datetime(2000, 1, 1)
ONE_SECOND = timedelta(seconds=1)


@dataclass(frozen=True)
class Window:
    """Records with ``start <= updated <= end`` (``start`` None: no lower bound)."""

    start: datetime | None
    end: datetime

    def filter_value(self) -> str:
        if self.start is None:
            return f"lte:{format_api(self.end)}"
        return f"between:{format_api(self.start)},{format_api(self.end)}"

    def contains(self, updated: str) -> bool:
        """Whether an API ``updated`` string lies in the window (fixed-width strings sort like instants)."""
        if updated > self._end_text:
            return False
        return self.start is None or updated >= self._start_text

    @cached_property
    def _end_text(self) -> str:
        return format_api(self.end)

    @cached_property
    def _start_text(self) -> str:
        return format_api(self.start) if self.start else ""

    def can_split(self) -> bool:
        return (self.end - (self.start or SPLIT_FLOOR)) >= 2 * ONE_SECOND

    def halves(self) -> tuple[Window, Window]:
        lower = self.start or SPLIT_FLOOR
        middle = lower + (self.end - lower) / 2
        middle = middle.replace(microsecond=0)
        return Window(self.start, middle), Window(middle + ONE_SECOND, self.end)

    def describe(self) -> str:
        start = format_api(self.start) if self.start else "the beginning"
        return f"{start} .. {format_api(self.end)}"


def format_api(value: datetime) -> str:
    return value.strftime(API_DATETIME)


def parse_api(value: str) -> datetime:
    return datetime.strptime(value, API_DATETIME)


def account_now(timezone: str) -> datetime:
    """The current wall-clock time in the account's zone, naive and to the second, like the API's values."""
    return datetime.now(ZoneInfo(timezone)).replace(tzinfo=None, microsecond=0)


def start_date_to_account(value: str, timezone: str) -> datetime:
    """``start_date`` (ISO 8601; naive values are taken as account time) as a naive account-zone datetime."""
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(ZoneInfo(timezone)).replace(tzinfo=None)
    return parsed.replace(microsecond=0)
