"""Values taken from the inputs, checked: counts, times, objects and lists, field-name lists."""

from __future__ import annotations

from datetime import UTC, datetime

from migration_report.inputs import Problems


def count(value: object, where: str, problems: Problems) -> int:
    """A count from the inputs; anything but a non-negative integer is a problem (and counts 0)."""
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0 or value != int(value):
        problems.add(where, "not a non-negative whole number")
        return 0
    return int(value)


def parse_time(value: object) -> float | None:
    """Unix seconds, or an ISO 8601 time (UTC when it names no zone); None when it is neither."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
        return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()
    return None


def mapping(value: object) -> dict:
    return value if isinstance(value, dict) else {}


def objects(value: object) -> list[dict]:
    """The objects of a list from the inputs (anything else in it is left out)."""
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def field_names(value: object) -> str:
    """Field names as the report shows them ("email, name"); the mapper writes lists, older files strings."""
    if isinstance(value, list):
        return ", ".join(str(item) for item in value)
    return str(value or "")


def texts(row: dict, *keys: str) -> dict:
    """The row's values of `keys` as text ("" for a missing one)."""
    return {key: str(row.get(key) or "") for key in keys}
