"""Reading the Singer input: the SDK's reader, with line numbers and no line content in its errors.

The SDK's own errors quote the offending line (or the whole message), and a line may hold a patient's
record. This reader counts the lines it reads, so the load and the preflight command (both read through
the target) can say which line is wrong, and says it from the line number and the key names alone.
"""

from __future__ import annotations

from singer_sdk.io_base import SingerReader
from singer_sdk.singerlib.exceptions import InvalidInputLine


class UnreadableLine(InvalidInputLine):
    """An input line that is not a Singer message; the message names its number, never its content."""


class NumberedSingerReader(SingerReader):
    """`Target.message_reader_class`: the SDK reads each line through `deserialize_json` once, in order, and
    checks every message's required keys through `assert_line_requires`."""

    def __init__(self) -> None:
        super().__init__()
        self.line_number = 0

    def deserialize_json(self, line: str) -> dict:
        self.line_number += 1
        try:
            message = super().deserialize_json(line)
        except InvalidInputLine:
            raise UnreadableLine(f"line {self.line_number} is not JSON") from None
        if not isinstance(message, dict):
            raise UnreadableLine(f"line {self.line_number} is not a JSON object")
        return message

    def assert_line_requires(self, line_dict: dict, requires: set[str]) -> None:
        if not isinstance(line_dict, dict):  # e.g. a SCHEMA message whose schema is a string
            raise UnreadableLine(f"line {self.line_number} lacks the required key(s) {', '.join(sorted(requires))}")
        missing = sorted(requires - set(line_dict))
        if missing:
            raise UnreadableLine(f"line {self.line_number} lacks the required key(s) {', '.join(missing)}")
