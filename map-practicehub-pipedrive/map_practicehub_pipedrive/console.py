"""The console script: `propose`/`confirm`, the fast stdin → stdout run, or the SDK's mapper CLI.

A plain run (`--config FILE` one or more times, optionally `--input FILE`) is read and written here
with orjson, without importing singer-sdk: that import is ~0.35 s of CPU, a fifth of a 50,000-record
run. Anything else (`--about`, `--config ENV`, `--help`, `--version`, other options) goes to the SDK's
CLI, which drives the same transformer through `mapper.PracticeHubToPipedrive`.
"""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

import click
from target_pipedrive.privacy import private_outputs  # one umask rule for the mapper and the target

from map_practicehub_pipedrive import cli
from map_practicehub_pipedrive.jsonlines import BadLine, encode_line, parse, write, write_lines
from map_practicehub_pipedrive.settings import ConfigError, checked

IGNORED = {"SCHEMA", "ACTIVATE_VERSION"}  # input schemas are PracticeHub's; outputs are upserted by source_id


class InputError(click.ClickException):
    exit_code = 1


def plain_run(argv: list[str]) -> tuple[list[str], str | None] | None:
    """(config files, input file) when argv asks for nothing but a run; else None (the SDK's CLI decides)."""
    configs, input_path, position = [], None, 0
    while position < len(argv):
        option, value = argv[position], None
        if "=" in option:
            option, value = option.split("=", 1)
            position += 1
        elif position + 1 < len(argv):
            value = argv[position + 1]
            position += 2
        if value is None or option not in ("--config", "--input") or value == "ENV":
            return None
        if option == "--config":
            configs.append(value)
        elif input_path is None:
            input_path = value
        else:
            return None
    return (configs, input_path) if configs else None


def read_config(paths: list[str]) -> dict:
    config: dict = {}
    for path in paths:  # later files override earlier ones, as in the SDK
        try:
            config.update(json.loads(Path(path).read_text("utf-8")))
        except (OSError, ValueError) as exc:
            raise ConfigError(f"cannot read config file {path}: {exc.__class__.__name__}") from None
    return config


def run(config_paths: list[str], input_path: str | None) -> None:
    from map_practicehub_pipedrive.transformer import from_config  # after the cheap argv check

    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s | %(levelname)-8s | %(name)s | %(message)s")
    transformer = from_config(checked(read_config(config_paths)))
    if input_path == "-":
        input_path = None
    source = open(input_path, "rb") if input_path else sys.stdin.buffer  # closed below
    try:
        for number, line in enumerate(source, 1):
            if not line.strip():
                continue
            try:
                message = parse(line)
            except BadLine as exc:
                raise InputError(f"input line {number}: {exc}") from None
            kind = message.get("type") if isinstance(message, dict) else None
            if kind == "RECORD":  # stdout is block-buffered: small writes cost no system call each
                produced = transformer.record(message["stream"], message["record"])
                if produced:
                    write_lines([encode_line(item) for item in produced], flush=False)
            elif kind == "STATE":  # after the records it covers, and flushed
                write_lines([encode_line(item) for item in transformer.state(message)], flush=True)
            elif kind not in IGNORED:
                raise InputError(f"input line {number}: Singer message type {kind!r} is not supported")
    finally:
        if input_path:
            source.close()
    write(transformer.finish())
    sys.stdout.flush()


def main() -> None:
    private_outputs()
    argv = sys.argv[1:]
    if argv and argv[0] in cli.SUBCOMMANDS:
        cli.main(argv)
        return
    plain = plain_run(argv)
    if plain is None:
        from map_practicehub_pipedrive.mapper import PracticeHubToPipedrive

        PracticeHubToPipedrive.cli()
        return
    try:
        run(*plain)
    except click.ClickException as error:
        error.show()
        sys.exit(error.exit_code)
