"""Fast Singer message reading and writing: orjson, one flush per STATE and at the end.

The SDK's writer flushes stdout after every message and serialises through simplejson with
Decimal support; the mapper's messages hold plain JSON types, so orjson is enough (and ~5x faster).
"""

from __future__ import annotations

import sys

import orjson
from singer_sdk.singerlib.encoding import SimpleSingerReader, SimpleSingerWriter
from singer_sdk.singerlib.exceptions import InvalidInputLine


def encode(message: dict) -> bytes:
    return orjson.dumps(message, default=str)


class FastReader(SimpleSingerReader):
    def deserialize_json(self, line: str) -> dict:
        try:
            return orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            # The line may hold patient data: report the position only.
            raise InvalidInputLine(f"Unable to parse an input line as JSON ({exc.msg} at char {exc.pos})") from None


class FastWriter(SimpleSingerWriter):
    def serialize_message(self, message) -> str:  # noqa: ANN001
        return encode(message if isinstance(message, dict) else message.to_dict()).decode("utf-8")

    def write_message(self, message) -> None:  # noqa: ANN001
        payload = encode(message if isinstance(message, dict) else message.to_dict()) + b"\n"
        binary = getattr(sys.stdout, "buffer", None)
        if binary is None:  # stdout replaced by a text stream (tests)
            sys.stdout.write(payload.decode("utf-8"))
        else:
            binary.write(payload)
        if isinstance(message, dict) and message.get("type") == "STATE":
            sys.stdout.flush()
