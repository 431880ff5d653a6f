"""The Singer mapper: the SDK's InlineMapper routing each message to the transformer, nothing else.

This is the one run path (`map-practicehub-pipedrive --config FILE`, as Meltano starts it, `--config ENV`,
`--input FILE`, `--about`): the SDK reads and validates the config against settings.CONFIG_SCHEMA and
drives singer_io's fast reader and writer.
"""

from __future__ import annotations

import sys
import typing as t

from singer_sdk import InlineMapper
from singer_sdk.helpers.capabilities import PluginCapabilities

from map_practicehub_pipedrive.settings import CONFIG_SCHEMA, without_blanks
from map_practicehub_pipedrive.singer_io import FastReader, FastWriter, InputError
from map_practicehub_pipedrive.transformer import from_config


class PracticeHubToPipedrive(InlineMapper):
    """Maps tap-practicehub's streams onto target-pipedrive's contract, driven by a confirmed mapping file."""

    name = "map-practicehub-pipedrive"
    message_reader_class = FastReader
    message_writer_class = FastWriter
    # No SDK stream maps or flattening: the mapping file is the only map.
    capabilities: t.ClassVar[list[PluginCapabilities]] = [PluginCapabilities.ABOUT,
                                                         PluginCapabilities.STRUCTURED_LOGGING]
    config_jsonschema = CONFIG_SCHEMA

    def __init__(self, *, config: dict | None = None, **kwargs: t.Any) -> None:
        # The SDK's CLI passes the config files' settings as one dict; blanks are unset, not invalid.
        super().__init__(config=without_blanks(config or {}), **kwargs)
        self.transformer = from_config(without_blanks(dict(self.config)))

    def map_schema_message(self, message_dict: dict) -> t.Iterable[dict]:
        return ()  # input schemas are PracticeHub's; the transformer writes Pipedrive's

    def map_record_message(self, message_dict: dict) -> t.Iterable[dict]:
        return self.transformer.record(message_dict["stream"], message_dict["record"])

    def map_state_message(self, message_dict: dict) -> t.Iterable[dict]:
        return self.transformer.state(message_dict)

    def map_activate_version_message(self, message_dict: dict) -> t.Iterable[dict]:
        return ()  # output streams are upserted by source_id; versions of input streams do not apply

    def map_batch_message(self, message_dict: dict) -> t.Iterable[dict]:
        raise InputError("Singer message type 'BATCH' is not supported")

    def process_endofpipe(self) -> None:
        for message in self.transformer.finish():
            self.write_message(message)
        sys.stdout.flush()
