"""Singer output: the SDK's msgspec encoding, flushed per message kind rather than per record."""

from __future__ import annotations

import sys

from singer_sdk.contrib.msgspec import MsgSpecWriter
from singer_sdk.singerlib import RecordMessage


class BufferedWriter(MsgSpecWriter):
    """RECORD lines go through stdout's buffer; every other message (SCHEMA, STATE, ...) is flushed at once.

    A flush per record is a system call per record: the largest cost of a fast extraction. The tap calls
    ``flush`` before it waits for an answer, so no record sits in the buffer while the tap is idle, and a
    STATE line always follows the records it covers out of the process.
    """

    def write_message(self, message) -> None:  # noqa: ANN001
        sys.stdout.buffer.write(self.format_message(message))
        if not isinstance(message, RecordMessage):
            sys.stdout.flush()

    def flush(self) -> None:
        sys.stdout.flush()
