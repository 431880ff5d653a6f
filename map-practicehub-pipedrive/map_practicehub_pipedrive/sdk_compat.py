"""The singer-sdk details the mapper relies on beyond the SDK's plugin API (InlineMapper and its map_* hooks).

map-practicehub-pipedrive/tests/test_sdk_compat.py fails when an SDK upgrade changes one of them; fix it here and in
singer_io.py, the only user.
"""

from __future__ import annotations

# The encoding module moved once already (it was singer_sdk._singerlib before 0.40).
from singer_sdk.singerlib.encoding import SimpleSingerReader, SimpleSingerWriter

# singer_io.FastReader replaces the reader's per-line loop, `process_lines(file_input, callbacks)` (an SDK
# internal): the mapper calls it with one handler per message type, these types.
READER_CALLBACK_TYPES = frozenset({"SCHEMA", "RECORD", "STATE", "ACTIVATE_VERSION", "BATCH"})

__all__ = ["READER_CALLBACK_TYPES", "SimpleSingerReader", "SimpleSingerWriter"]
