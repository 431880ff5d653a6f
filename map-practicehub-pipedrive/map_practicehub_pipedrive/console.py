"""The console script: `propose` and `confirm` (cli.py), else the SDK's mapper CLI (mapper.py)."""

from __future__ import annotations

import sys

from target_pipedrive.privacy import private_outputs  # one umask rule for the mapper and the target

from map_practicehub_pipedrive import cli


def main() -> None:
    private_outputs()
    argv = sys.argv[1:]
    if argv and argv[0] in cli.SUBCOMMANDS:
        cli.main(argv)
        return
    from map_practicehub_pipedrive.mapper import PracticeHubToPipedrive  # the SDK only for a run

    PracticeHubToPipedrive.cli()
