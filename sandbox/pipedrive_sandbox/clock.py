"""Timestamps in the two formats Pipedrive uses."""

from __future__ import annotations

import re
from datetime import UTC, datetime

V1_FORMAT = "%Y-%m-%d %H:%M:%S"
V2_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
DATE_RE_TEXT = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def now_v2() -> str:
    return datetime.now(UTC).strftime(V2_FORMAT)


def to_v1(value: str | None) -> str | None:
    """RFC 3339 (as stored) → `YYYY-MM-DD HH:MM:SS` (v1)."""
    if not value:
        return value
    return parse(value).strftime(V1_FORMAT)


def parse(value: str) -> datetime:
    """Accept RFC 3339 (`Z` or offset) and v1's `YYYY-MM-DD HH:MM:SS` (UTC); raise ValueError otherwise."""
    text = value.strip()
    if len(text) == 19 and text[10] == " ":
        return datetime.strptime(text, V1_FORMAT).replace(tzinfo=UTC)
    parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def normalise_v2(value: str) -> str:
    return parse(value).strftime(V2_FORMAT)
