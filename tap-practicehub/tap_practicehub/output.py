"""Singer output: the SDK's msgspec encoding, flushed per message kind rather than per record."""

from __future__ import annotations

import atexit
import contextlib
import sys

from singer_sdk.contrib.msgspec import MsgSpecWriter
from singer_sdk.singerlib import RecordMessage

BUFFER_BYTES = 64 * 1024


class BufferedWriter(MsgSpecWriter):
    """RECORD lines are collected here; every other message (SCHEMA, STATE, ...) leaves at once, after them.

    A write per record is a system call per record: the largest cost of a fast extraction. The buffer is
    our own because stdout has none under PYTHONUNBUFFERED=1 (common in containers). The tap calls
    ``flush`` before it waits for an answer, so no record sits in the buffer while the tap is idle, and a
    STATE line always follows the records it covers out of the process.
    """

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._pending = bytearray()
        atexit.register(self._flush_at_exit)

    def write_message(self, message) -> None:  # noqa: ANN001
        self._pending += self.format_message(message)
        if not isinstance(message, RecordMessage) or len(self._pending) >= BUFFER_BYTES:
            self.flush()

    def flush(self) -> None:
        out, written = sys.stdout.buffer, 0
        with memoryview(self._pending) as pending:
            while written < len(pending):  # an unbuffered stdout may take only part of it per write
                written += out.write(pending[written:])
        self._pending.clear()
        sys.stdout.flush()

    def _flush_at_exit(self) -> None:
        with contextlib.suppress(OSError, ValueError):  # the reader may be gone already
            self.flush()
