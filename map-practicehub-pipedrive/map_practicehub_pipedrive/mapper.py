"""The Singer mapper: routes each message to the transformer, nothing else."""

from __future__ import annotations

import sys
import typing as t

from singer_sdk import InlineMapper
from singer_sdk.helpers.capabilities import PluginCapabilities

from map_practicehub_pipedrive.settings import CONFIG_SCHEMA
from map_practicehub_pipedrive.singer_io import FastReader, FastWriter
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

    def __init__(self, *args: t.Any, **kwargs: t.Any) -> None:
        super().__init__(*args, **kwargs)
        self.transformer = from_config(dict(self.config))

    def _write_messages(self, messages: t.Iterable) -> None:
        if messages:
            self.message_writer.write_messages(list(messages))

    def map_schema_message(self, message_dict: dict) -> t.Iterable[dict]:
        return ()  # input schemas are PracticeHub's; the transformer writes Pipedrive's

    def map_record_message(self, message_dict: dict) -> t.Iterable[dict]:
        return self.transformer.record(message_dict["stream"], message_dict["record"])

    def map_state_message(self, message_dict: dict) -> t.Iterable[dict]:
        return self.transformer.state(message_dict)

    def map_activate_version_message(self, message_dict: dict) -> t.Iterable[dict]:
        return ()  # output streams are upserted by source_id; versions of input streams do not apply

    def process_endofpipe(self) -> None:
        self._write_messages(self.transformer.finish())
        sys.stdout.flush()


def main() -> None:
    from map_practicehub_pipedrive import console

    console.main()


if __name__ == "__main__":
    main()
