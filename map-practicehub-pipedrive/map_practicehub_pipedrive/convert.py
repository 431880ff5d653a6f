"""Value conversions shared by every entity: dates, money, emails, phones, text limits.

Each converter returns the converted value or None for an empty input, and raises `BadValue`
(a reason code plus a detail without patient data) when the input cannot be converted.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from functools import lru_cache
from zoneinfo import ZoneInfo

EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$")
PHONE_RE = re.compile(r"^\+?[\d\s().\-]{6,20}$")
DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
DATETIME_RE = re.compile(r"^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}(:\d{2})?$")


class BadValue(ValueError):
    """A source value that cannot be converted: `reason` is a short code, `detail` names the field."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


def text(value: object) -> str | None:
    """Strip a value to a string; empty strings become None."""
    if value is None:
        return None
    result = value.strip() if value.__class__ is str else str(value).strip()
    return result or None


def email(value: object, field: str = "email") -> str | None:
    result = text(value)
    if result is None:
        return None
    if not EMAIL_RE.match(result):
        raise BadValue("invalid_email", f"{field} is not a valid email address")
    return result


def normalise_email(value: str) -> str:
    """The de-duplication key: case- and space-insensitive."""
    return "".join(value.split()).lower()


def phone(value: object, field: str = "phone") -> str | None:
    result = text(value)
    if result is None:
        return None
    if not PHONE_RE.match(result):
        raise BadValue("invalid_phone", f"{field} is not a phone number")
    return result


def parse_date(value: object, field: str, order: str | None = None) -> str | None:
    """A `YYYY-MM-DD` date (a datetime keeps its date part), also read from the forms people type.

    `order` (DMY, MDY or YMD: the account's convention) settles numeric dates such as 03/04/2024; without
    it a date that reads two ways is refused as ambiguous rather than guessed.
    """
    result = text(value)
    if result is None:
        return None
    candidate = result[:10]
    if DATE_RE.match(candidate):
        try:
            date.fromisoformat(candidate)
            return candidate
        except ValueError:
            raise BadValue("unparseable_date", f"{field} is not a date (YYYY-MM-DD)") from None
    readings = _date_readings(result, order)
    if len(readings) > 1:
        raise BadValue("ambiguous_date", f"{field} reads as more than one date; set date_order (DMY, MDY, YMD)")
    if not readings:
        raise BadValue("unparseable_date", f"{field} is not a date (YYYY-MM-DD)")
    return readings.pop()


MONTHS = {name: number for number, names in enumerate(
    (("jan", "january"), ("feb", "february"), ("mar", "march"), ("apr", "april"), ("may",), ("jun", "june"),
     ("jul", "july"), ("aug", "august"), ("sep", "sept", "september"), ("oct", "october"), ("nov", "november"),
     ("dec", "december")), 1) for name in names}
NUMERIC_DATE_RE = re.compile(r"^(\d{1,4})[/.\-\s](\d{1,2})[/.\-\s](\d{1,4})(?:[ T].*)?$")
WORDY_DATE_RE = re.compile(r"^(?:(\d{1,2})(?:st|nd|rd|th)?[\s\-/.]+([A-Za-z]+)\.?,?[\s\-/.]+(\d{4})"
                           r"|([A-Za-z]+)\.?[\s\-/.]+(\d{1,2})(?:st|nd|rd|th)?,?[\s\-/.]+(\d{4}))$")


def _date_readings(value: str, order: str | None) -> set[str]:
    """Every calendar date `value` can mean (numeric forms by `order`, or every order when unset)."""
    found: set[str] = set()
    wordy = WORDY_DATE_RE.match(value.strip())
    if wordy:
        day, month_name, year = (wordy.group(1), wordy.group(2), wordy.group(3)) if wordy.group(1) else (
            wordy.group(5), wordy.group(4), wordy.group(6))
        month = MONTHS.get(month_name.lower())
        if month:
            _add_date(found, int(year), month, int(day))
        return found
    numeric = NUMERIC_DATE_RE.match(value.strip())
    if not numeric:
        return found
    first, second, third = (int(part) for part in numeric.groups())
    if len(numeric.group(1)) == 4:
        _add_date(found, first, second, third)  # year first is only ever Y-M-D
        return found
    if len(numeric.group(3)) != 4:
        return found  # two-digit years are not guessed
    orders = [order] if order in ("DMY", "MDY") else ["DMY", "MDY"]
    for each in orders:
        day, month = (first, second) if each == "DMY" else (second, first)
        _add_date(found, third, month, day)
    return found


def _add_date(found: set[str], year: int, month: int, day: int) -> None:
    try:
        found.add(date(year, month, day).isoformat())
    except ValueError:
        pass


class Clock:
    """Converts PracticeHub's naive account-time-zone datetimes to UTC text (cached: timestamps repeat)."""

    def __init__(self, timezone_name: str = "UTC") -> None:
        self.zone = ZoneInfo(timezone_name)
        self.is_utc = timezone_name in ("UTC", "Etc/UTC", "Z")
        self._instant = lru_cache(maxsize=131072)(self._convert)

    def _convert(self, value: str) -> str | None:
        """`YYYY-MM-DDTHH:MM:SS` in UTC, "" for blank text, None when the text is not a datetime."""
        value = value.strip()
        if not value:
            return ""
        if not DATETIME_RE.match(value):
            return None
        try:
            local = datetime.fromisoformat(value)
        except ValueError:
            return None
        if not self.is_utc:
            local = local.replace(tzinfo=self.zone).astimezone(UTC).replace(tzinfo=None)
        return local.isoformat(timespec="seconds")

    def instant(self, value: object, field: str) -> str | None:
        if value is None:
            return None
        converted = self._instant(value if value.__class__ is str else str(value))
        if converted is None:
            raise BadValue("unparseable_date", f"{field} is not a datetime (YYYY-MM-DD HH:MM:SS)")
        return converted or None

    def iso_utc(self, value: object, field: str) -> str | None:
        """RFC 3339 in UTC with a `Z`: sorts as text in time order."""
        converted = self.instant(value, field)
        return converted + "Z" if converted else None

    def note_time(self, value: object, field: str) -> str | None:
        """Pipedrive notes' `add_time`: `YYYY-MM-DD HH:MM:SS` in UTC."""
        converted = self.instant(value, field)
        return converted.replace("T", " ") if converted else None

    def local_date(self, value: object, field: str) -> str | None:
        """The calendar date the clinic saw (account time zone)."""
        result = text(value)
        if result is None:
            return None
        self.instant(result, field)  # validates
        return result[:10]


AMOUNT_RE = re.compile(r"^[^\d\-+.,]{0,4}\s*([-+]?\d[\d\s.,']*)\s*[^\d]{0,4}$")


def money(value: object, field: str) -> float | None:
    """A number, also from the forms people type: currency signs, thousands separators, a decimal comma."""
    result = text(value)
    if result is None:
        return None
    try:
        amount = float(result)
    except ValueError:
        amount = _typed_amount(result)
        if amount is None:
            raise BadValue("invalid_number", f"{field} is not a number") from None
    if amount != amount or amount in (float("inf"), float("-inf")):
        raise BadValue("invalid_number", f"{field} is not a finite number")
    return round(amount, 2)


def _typed_amount(value: str) -> float | None:
    match = AMOUNT_RE.match(value)
    if not match:
        return None
    digits = match.group(1).replace(" ", "").replace("'", "")
    if "," in digits and "." in digits:
        decimal_mark = "," if digits.rfind(",") > digits.rfind(".") else "."
    elif digits.count(",") == 1 and len(digits) - digits.rfind(",") - 1 != 3:
        decimal_mark = ","  # 12,5 or 1234,56: a decimal comma, not thousands
    else:
        decimal_mark = "."
    thousands = "." if decimal_mark == "," else ","
    digits = digits.replace(thousands, "").replace(decimal_mark, ".")
    try:
        return float(digits)
    except ValueError:
        return None


def integer(value: object, field: str) -> int | None:
    result = text(value)
    if result is None:
        return None
    try:
        return int(result)
    except ValueError:
        raise BadValue("invalid_reference", f"{field} is not an integer id") from None


def flag(value: object) -> bool:
    """PracticeHub booleans are 0/1 integers (sometimes strings)."""
    return str(value).strip().lower() in ("1", "true", "yes")


CONTROL_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def without_controls(value: str) -> str:
    """Text without C0 control characters (tab, newline and carriage return stay): Pipedrive stores NUL."""
    return CONTROL_RE.sub("", value)


def check_length(value: str | None, limit: int, field: str) -> str | None:
    if value is not None and len(value) > limit:
        raise BadValue("text_too_long", f"{field} has {len(value)} characters, Pipedrive allows {limit}")
    return value
