"""Search terms of a record (lower-cased), kept in their own table so searches stay fast at 20,000+ records."""

from __future__ import annotations

from typing import Any

SEARCHED_ENTITIES = ("persons", "organizations", "deals")
SYSTEM_TERMS = ("name", "title", "email", "phone", "notes")


def search_terms(entity: str, record: dict[str, Any]) -> list[tuple[str, str]]:
    """(field, value) pairs: name/title, each email and phone, notes, and every custom value."""
    if entity not in SEARCHED_ENTITIES or record.get("is_deleted"):
        return []
    terms: list[tuple[str, Any]] = [("name", record.get("name")), ("title", record.get("title")),
                                    ("notes", record.get("notes"))]
    terms += [("email", item.get("value")) for item in record.get("emails") or [] if isinstance(item, dict)]
    terms += [("phone", item.get("value")) for item in record.get("phones") or [] if isinstance(item, dict)]
    for code, value in (record.get("custom_fields") or {}).items():
        if isinstance(value, dict):
            value = value.get("value")
        terms.append((code, value))
    return [(field, str(value).lower()) for field, value in terms
            if isinstance(value, str | int | float) and not isinstance(value, bool) and str(value) != ""]


def like_pattern(term: str, mode: str) -> str:
    """A LIKE pattern (escape character backslash) for exact, beginning or middle matching."""
    escaped = term.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return {"exact": escaped, "beginning": f"{escaped}%", "middle": f"%{escaped}%"}[mode]
