"""The singer-sdk details in map_practicehub_pipedrive/sdk_compat.py still hold (fails on an SDK upgrade that
changes one: fix sdk_compat.py and singer_io.py then)."""

from __future__ import annotations

import contextlib
import inspect
import io
import json

from map_practicehub_pipedrive.mapper import PracticeHubToPipedrive
from map_practicehub_pipedrive.sdk_compat import READER_CALLBACK_TYPES, SimpleSingerReader, SimpleSingerWriter
from map_practicehub_pipedrive.singer_io import FastReader, FastWriter
from testkit.mapper_run import base_config


def _abstract(cls: type) -> set[str]:
    """What the SDK's base classes declare abstract (the methods a reader or writer must provide)."""
    return set().union(*(getattr(base, "__abstractmethods__", ()) for base in cls.__mro__[1:]))


class RecordingReader(FastReader):
    def process_lines(self, file_input, callbacks):  # noqa: ANN001
        self.seen = (file_input, set(callbacks))
        return super().process_lines(file_input, callbacks)


def test_the_reader_loop_is_called_with_the_input_and_one_handler_per_message_type(tmp_path):
    assert list(inspect.signature(SimpleSingerReader.process_lines).parameters) == ["self", "file_input",
                                                                                    "callbacks"]
    reader = RecordingReader()
    mapper = PracticeHubToPipedrive(config=base_config(tmp_path), message_reader=reader)
    source = io.StringIO('{"type": "STATE", "value": {"bookmarks": {}}}\n')
    with contextlib.redirect_stdout(io.StringIO()) as out:
        mapper.listen(source)
    assert reader.seen == (source, set(READER_CALLBACK_TYPES))
    assert json.loads(out.getvalue().splitlines()[0]) == {"type": "STATE", "value": {"bookmarks": {}}}


def test_the_writer_overrides_every_abstract_method_and_messages_reach_it(tmp_path):
    assert _abstract(SimpleSingerWriter) == {"serialize_message", "write_message"}  # FastWriter overrides both
    assert _abstract(SimpleSingerReader) == {"default_input", "deserialize_json"}  # and FastReader these
    assert not inspect.isabstract(FastWriter) and not inspect.isabstract(FastReader)
    mapper = PracticeHubToPipedrive(config=base_config(tmp_path))
    assert isinstance(mapper.message_writer, FastWriter) and isinstance(mapper.message_reader, FastReader)
    with contextlib.redirect_stdout(io.StringIO()) as out:
        mapper.write_message({"type": "STATE", "value": {"n": 1}})  # the SDK hands it to message_writer
    assert out.getvalue() == '{"type":"STATE","value":{"n":1}}\n'
