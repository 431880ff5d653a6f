"""PracticeHub list filters: ``?<attribute>=<op>:<value>``; invalid ones are silently ignored, as the real API does.

Each attribute's kind (integer, money, datetime, date, text) is read from the records themselves, so a
filter value is compared the way the API would compare it. Datetimes and dates are compared as their
fixed-width strings, which sort like the instants they name.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation

from .resources import DATE_FORMAT, DATETIME_FORMAT

OPERATORS = ("eq", "ne", "gt", "gte", "lt", "lte", "null", "not-null", "like", "in", "not-in", "between")
RESERVED_PARAMS = frozenset({"page", "page_size"})

_DATETIME_RE = re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$")
_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_MONEY_RE = re.compile(r"^-?\d+\.\d{2}$")


def attribute_kind(values: Iterable) -> str | None:
    """The kind of an attribute from its first non-null value; None when it cannot be filtered."""
    for value in values:
        if value is None:
            continue
        if isinstance(value, bool) or isinstance(value, int):
            return "int"
        if isinstance(value, float):
            return "number"
        if isinstance(value, str):
            if _DATETIME_RE.match(value):
                return "datetime"
            if _DATE_RE.match(value):
                return "date"
            if _MONEY_RE.match(value):
                return "money"
            return "text"
        return None  # lists and objects
    return "text"


def _parse_instant(raw: str) -> datetime | None:
    raw = raw.strip().replace("T", " ")
    for fmt in (DATETIME_FORMAT, "%Y-%m-%d %H:%M", DATE_FORMAT):
        try:
            return datetime.strptime(raw, fmt)
        except ValueError:
            continue
    return None


def _parse_value(kind: str, raw: str):
    """The comparable form of a filter literal, or None when it is malformed for this kind."""
    if kind == "int":
        try:
            return int(raw.strip())
        except ValueError:
            return None
    if kind in ("money", "number"):
        try:
            return Decimal(raw.strip())
        except InvalidOperation:
            return None
    if kind in ("datetime", "date"):
        instant = _parse_instant(raw)
        if instant is None:
            return None
        return instant.strftime(DATETIME_FORMAT if kind == "datetime" else DATE_FORMAT)
    return raw


def _comparable(kind: str, value):
    if value is None:
        return None
    if kind in ("money", "number"):
        try:
            return Decimal(str(value))
        except InvalidOperation:
            return None
    if kind == "int" and not isinstance(value, int):
        try:
            return int(value)
        except (TypeError, ValueError):
            return None
    return value


def _like_matcher(pattern: str) -> Callable[[str], bool]:
    """SQL LIKE, case-insensitive: % any run, _ one character; no wildcard means 'contains'."""
    if "%" not in pattern and "_" not in pattern:
        pattern = f"%{pattern}%"
    regex = "".join(".*" if c == "%" else "." if c == "_" else re.escape(c) for c in pattern)
    compiled = re.compile(f"^{regex}$", re.IGNORECASE | re.DOTALL)
    return lambda text: bool(compiled.match(text))


# Kinds whose record values compare with a filter's parsed value as they are (strings, and ints that are ints).
_COMPARED_AS_IS = frozenset({"datetime", "date", "text"})


@dataclass(frozen=True)
class Filter:
    attribute: str
    operator: str
    kind: str
    predicate: Callable[[object], bool]
    expression: str = ""  # as sent: with the attribute, it identifies the filter (the store caches by it)

    def matches(self, record: dict) -> bool:
        return self.predicate(_comparable(self.kind, record.get(self.attribute)))

    def select(self, records: Iterable[dict]) -> list[dict]:
        """The records that match, in their order (one pass, no per-record conversion where none is needed)."""
        attribute, predicate = self.attribute, self.predicate
        if self.kind in _COMPARED_AS_IS:
            return [record for record in records if predicate(record.get(attribute))]
        return [record for record in records if self.matches(record)]


def _predicate(kind: str, operator: str, raw: str) -> Callable[[object], bool] | None:
    if operator == "null":
        return lambda v: v is None
    if operator == "not-null":
        return lambda v: v is not None
    if operator == "like":
        match = _like_matcher(raw)
        return lambda v: v is not None and match(str(v))
    if operator in ("in", "not-in"):
        parsed = [_parse_value(kind, part) for part in raw.split(",")]
        if not raw or any(p is None for p in parsed):
            return None
        members = set(parsed)
        if operator == "in":
            return lambda v: v is not None and v in members
        return lambda v: v is None or v not in members
    if operator == "between":
        parts = raw.split(",")
        if len(parts) != 2:
            return None
        low, high = (_parse_value(kind, part) for part in parts)
        if low is None or high is None:
            return None
        return lambda v: v is not None and low <= v <= high
    value = _parse_value(kind, raw)
    if value is None:
        return None
    comparisons: dict[str, Callable[[object], bool]] = {
        "eq": lambda v: v is not None and v == value,
        "ne": lambda v: v is None or v != value,
        "gt": lambda v: v is not None and v > value,
        "gte": lambda v: v is not None and v >= value,
        "lt": lambda v: v is not None and v < value,
        "lte": lambda v: v is not None and v <= value,
    }
    return comparisons[operator]


def parse_filters(params: Iterable[tuple[str, str]], kinds: dict[str, str | None]) -> list[Filter]:
    """Filters from query parameters (repeated keys allowed); anything invalid is dropped without a word.

    ``kinds`` maps each attribute the resource has to its kind (None: not filterable).
    """
    filters: list[Filter] = []
    for attribute, expression in params:
        if attribute in RESERVED_PARAMS or attribute not in kinds or kinds[attribute] is None:
            continue
        operator, _, raw = expression.partition(":")
        if operator not in OPERATORS:
            continue
        kind = kinds[attribute]
        predicate = _predicate(kind, operator, raw)
        if predicate is not None:
            filters.append(Filter(attribute, operator, kind, predicate, expression))
    return filters


def apply_filters(records: Iterable[dict], filters: list[Filter]) -> list[dict]:
    selected = list(records)
    for one in filters:
        selected = one.select(selected)
    return selected
