"""The Singer mapper: routes each message to the transformer, nothing else."""

from __future__ import annotations

import sys
import typing as t

from singer_sdk import InlineMapper
from singer_sdk import typing as th
from singer_sdk.helpers.capabilities import PluginCapabilities

from practicehub_pipedrive import cli
from practicehub_pipedrive.mapping import check_confirmed, read_mapping
from practicehub_pipedrive.singer_io import FastReader, FastWriter
from practicehub_pipedrive.transformer import Transformer
from practicehub_pipedrive.workflows import DEFAULT_AUTOMATION_CAP


class PracticeHubToPipedrive(InlineMapper):
    """Maps tap-practicehub's streams onto target-pipedrive's contract, driven by a confirmed mapping file."""

    name = "map-practicehub-pipedrive"
    message_reader_class = FastReader
    message_writer_class = FastWriter
    # No SDK stream maps or flattening: the mapping file is the only map.
    capabilities: t.ClassVar[list[PluginCapabilities]] = [PluginCapabilities.ABOUT,
                                                         PluginCapabilities.STRUCTURED_LOGGING]

    config_jsonschema = th.PropertiesList(
        th.Property("mapping_file", th.StringType, required=True,
                    description="The confirmed mapping file (YAML); make one with `propose`, then `confirm`."),
        th.Property("phi_policy", th.StringType, default="refuse", allowed_values=["refuse", "exclude", "include"],
                    description="refuse: do not start; exclude: leave PHI out; include: needs baa_reference."),
        th.Property("baa_reference", th.StringType, secret=False,
                    description="The Business Associate Agreement with Pipedrive (required for phi_policy include)."),
        th.Property("sample_size", th.IntegerType,
                    description="Sample mode: migrate a representative slice of this many appointments (100-500)."),
        th.Property("reports_dir", th.StringType, default="reports/map-practicehub-pipedrive",
                    description="Where reconciliation.json, dedupe.csv/json and workflows.md/json go."),
        th.Property("state_dir", th.StringType,
                    description="Where the merge map and lookups for delta runs live (default reports_dir/state)."),
        th.Property("source_timezone", th.StringType, default="UTC",
                    description="PracticeHub account time zone (IANA name) of its naive datetimes."),
        th.Property("currency", th.StringType, default="USD", description="Deal currency (ISO 4217)."),
        th.Property("automation_cap", th.IntegerType, default=DEFAULT_AUTOMATION_CAP,
                    description="Active automations the Pipedrive plan allows (Lite 0, Growth 50, Premium 150, "
                                "Ultimate 250)."),
    ).to_dict()

    def __init__(self, *args: t.Any, **kwargs: t.Any) -> None:
        super().__init__(*args, **kwargs)
        sample_size = self.config.get("sample_size")
        if sample_size is not None and not 100 <= int(sample_size) <= 500:
            raise cli.UsageError(f"sample_size must be between 100 and 500 (got {sample_size})")
        path = self.config["mapping_file"]
        mapping = read_mapping(path)
        check_confirmed(mapping, path)
        self.transformer = Transformer(dict(self.config), mapping)

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
    """`propose` and `confirm` are subcommands; everything else is the SDK's mapper CLI."""
    if len(sys.argv) > 1 and sys.argv[1] in cli.SUBCOMMANDS:
        cli.main(sys.argv[1:])
        return
    PracticeHubToPipedrive.cli()


if __name__ == "__main__":
    main()
