"""Degrade the value, never the record: what happens to one value that cannot land as it is.

While an entity module builds the entities of one source record, every value it cannot carry as it is
goes through the record's `Degradations`: the value is dropped or kept as entered (a note on the
entity), or replaced (truncated, generated, cleaned), and the change is recorded at field level
(stream, source id, field, reason, action; never the value). The transformer emits the entries on
the `degraded` stream and the kept texts as an "as entered" note, once the record's entities are built.
"""

from __future__ import annotations

import mimetypes
import re
from dataclasses import dataclass, field

from map_practicehub_pipedrive.convert import CONTROL_RE, BadValue

ON_INVALID = ("keep_raw", "drop_value", "skip_record")
DEFAULT_ON_INVALID = "keep_raw"
# What each action means in the reports.
ACTIONS = {
    "kept_raw": "left out of its field; the text as entered is kept in a note",
    "dropped": "left out (the mapping says drop_value)",
    "truncated": "shortened to Pipedrive's limit; the full text is kept in a note",
    "split": "split into consecutive notes (part 1 of N, ...)",
    "generated": "replaced by a generated value",
    "fallback": "replaced by the mapping's fallback",
    "cleaned": "control characters removed",
    "reinterpreted": "read from a non-standard form (the converted value landed)",
}
SAFE_NAME_RE = re.compile(r"[\\/:*?\"<>|\x00-\x1f\x7f]")
FILE_NAME_LIMIT = 255
PART_HEADING_ROOM = 64  # characters kept free in each part of a split note for its "(part k of N)" line


@dataclass
class Degradations:
    """The degraded values of one source record."""

    stream: str
    source_id: str
    entries: list[dict] = field(default_factory=list)
    kept: list[tuple[str, str]] = field(default_factory=list)  # (field, text as entered)

    def note(self, where: str, reason: str, action: str, raw: object = None) -> None:
        self.entries.append({"source_stream": self.stream, "source_id": self.source_id, "field": where,
                             "reason": reason, "action": action})
        if raw is not None and action in ("kept_raw", "truncated", "fallback"):
            self.kept.append((where, raw if isinstance(raw, str) else str(raw)))

    def value_problem(self, problem: BadValue, where: str, raw: object, on_invalid: str | None,
                      limit: int | None = None) -> object:
        """The value to land instead of one that failed to convert, after the field's policy."""
        policy = on_invalid or DEFAULT_ON_INVALID
        if policy == "skip_record":
            raise problem
        if problem.reason == "text_too_long" and limit and isinstance(raw, str) and policy == "keep_raw":
            self.note(where, problem.reason, "truncated", raw.strip())
            return raw.strip()[:limit]
        self.note(where, problem.reason, "kept_raw" if policy == "keep_raw" else "dropped",
                  raw if policy == "keep_raw" else None)
        return None


def clean_controls(record: dict, found: list[str], path: str = "") -> dict:
    """The record with control characters removed from every text in it; `found` gets the field paths."""
    cleaned = {}
    for key, value in record.items():
        cleaned[key] = _clean(value, f"{path}{key}", found)
    return cleaned


def _clean(value: object, where: str, found: list[str]) -> object:
    if value.__class__ is str:
        if CONTROL_RE.search(value):
            if where not in found:
                found.append(where)
            return CONTROL_RE.sub("", value)
        return value
    if isinstance(value, dict):
        return clean_controls(value, found, f"{where}.")
    if isinstance(value, list):
        return [_clean(item, where, found) for item in value]
    return value


def has_controls(value: object) -> bool:
    if value.__class__ is str:
        return CONTROL_RE.search(value) is not None
    if isinstance(value, dict):
        return any(has_controls(item) for item in value.values())
    if isinstance(value, list):
        return any(has_controls(item) for item in value)
    return False


def safe_file_name(name: str | None, file_id: object, mime_type: str | None) -> tuple[str, str | None]:
    """A name Pipedrive and every operating system accept, and the reason it differs from `name` (or None).

    Unsafe characters become `_`; an over-long name keeps its extension; a name with nothing left becomes
    `practicehub-file-<id><extension of the mime type>`.
    """
    original = (name or "").strip()
    cleaned = SAFE_NAME_RE.sub("_", original).strip(" .")
    reason = None
    if cleaned != original:
        reason = "unsafe_file_name"
    if not cleaned.strip("_ "):
        extension = mimetypes.guess_extension((mime_type or "").split(";")[0].strip()) or ""
        return f"practicehub-file-{file_id}{extension}", "missing_file_name" if not original else "unsafe_file_name"
    if len(cleaned) > FILE_NAME_LIMIT:
        stem, dot, extension = cleaned.rpartition(".")
        if not dot or len(extension) > 16:
            stem, extension = cleaned, ""
        suffix = f".{extension}" if extension else ""
        cleaned = stem[: FILE_NAME_LIMIT - len(suffix)] + suffix
        reason = "file_name_too_long"
    return cleaned, reason


def split_html(content: str, limit: int) -> list[str]:
    """`content` in consecutive parts of at most `limit` characters, never cut inside a tag or an entity."""
    parts = []
    rest = content
    while len(rest) > limit:
        cut = limit
        opening, closing = rest.rfind("<", 0, cut), rest.rfind(">", 0, cut)
        if opening > closing:
            cut = opening  # inside a tag: cut before it
        ampersand = rest.rfind("&", max(0, cut - 10), cut)
        if ampersand != -1 and ";" not in rest[ampersand:cut]:
            cut = ampersand  # inside an entity such as &amp;
        if cut <= 0:
            cut = limit
        parts.append(rest[:cut])
        rest = rest[cut:]
    parts.append(rest)
    return parts
