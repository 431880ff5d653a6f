"""Singer lines in and out with orjson: one stdout flush per STATE (and at the end), not per message.

Used by the SDK reader and writer of singer_io.py. The mapper's messages
hold plain JSON types, so orjson is enough (~5x faster than the SDK's simplejson with Decimals).
"""

from __future__ import annotations

import sys

import orjson


class BadLine(ValueError):
    """An input line that is not JSON: the message gives the position only (the line may hold PHI)."""


LINE = orjson.OPT_APPEND_NEWLINE


def encode(message: dict) -> bytes:
    return orjson.dumps(message, default=str)


def encode_line(message: dict) -> bytes:
    return orjson.dumps(message, default=str, option=LINE)


def parse(line: str | bytes) -> dict:
    try:
        return orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        raise BadLine(f"Unable to parse an input line as JSON ({exc.msg} at char {exc.pos})") from None


def write_lines(lines: list[bytes], flush: bool) -> None:
    payload = b"".join(lines)
    binary = getattr(sys.stdout, "buffer", None)
    if binary is None:  # stdout replaced by a text stream (tests)
        sys.stdout.write(payload.decode("utf-8"))
    else:
        binary.write(payload)
    if flush:
        sys.stdout.flush()


def write(messages: list[dict]) -> None:
    """Several messages in one write; flushed when a STATE is among them."""
    write_lines([encode_line(message) for message in messages],
                flush=any(message.get("type") == "STATE" for message in messages))
