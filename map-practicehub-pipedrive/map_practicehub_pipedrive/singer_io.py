"""The mapper's Singer reader and writer: the SDK's, on the fast orjson lines of jsonlines.py.

A bad input line stops the run with one line naming its number and what is wrong (InputError: click
prints it, no traceback), never the line itself: it may hold patient data.
"""

from __future__ import annotations

import sys
import typing as t
from collections import Counter

import click

from map_practicehub_pipedrive.jsonlines import BadLine, encode, parse, write
from map_practicehub_pipedrive.sdk_compat import SimpleSingerReader, SimpleSingerWriter


class InputError(click.ClickException):
    exit_code = 1


def _as_dict(message: t.Any) -> dict:
    return message if isinstance(message, dict) else message.to_dict()


class FastReader(SimpleSingerReader):
    @property
    def default_input(self) -> t.IO[bytes]:  # bytes: orjson parses them without a decode step
        return sys.stdin.buffer

    def process_lines(self, file_input: t.IO | None, callbacks: dict[str, t.Callable[[dict], None]]) -> Counter:
        """The SDK's loop, with line numbers and errors that never quote the line."""
        stats: Counter = Counter()
        for number, line in enumerate(file_input or self.default_input, 1):
            if not line.strip():
                continue
            try:
                message = parse(line)
            except BadLine as exc:
                raise InputError(f"input line {number}: {exc}") from None
            kind = message.get("type") if isinstance(message, dict) else None
            callback = callbacks.get(kind)
            if callback is None:
                raise InputError(f"input line {number}: Singer message type {kind!r} is not supported")
            callback(message)
            stats[kind] += 1
        return stats

    def deserialize_json(self, line: str | bytes) -> dict:
        return parse(line)


class FastWriter(SimpleSingerWriter):
    def serialize_message(self, message) -> str:  # noqa: ANN001
        return encode(_as_dict(message)).decode("utf-8")

    def write_message(self, message) -> None:  # noqa: ANN001
        write([_as_dict(message)])
