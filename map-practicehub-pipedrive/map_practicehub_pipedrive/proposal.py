"""`target-mapping-proposal`: a Singer target that proposes the mapping file from what a tap sends it.

`meltano run propose-mapping` pipes tap-practicehub in sample mode into it: the SCHEMA messages are the
catalog, the RECORD messages the sample. It writes the proposed mapping file (an existing one is kept
beside it as `<name>.previous.yml`), and `catalog.json` and `sample.singer` next to it, so
`map-practicehub-pipedrive propose --catalog ... --sample ...` can propose again without PracticeHub.
It emits no STATE: a sample leaves no bookmark. Settings (its `--config` file): `mapping_file`,
`catalog_file`, `sample_file`. Singer messages on stdin.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

import click
from target_pipedrive.privacy import private_outputs  # one umask rule for the mapper and the target

from map_practicehub_pipedrive.cli import UsageError
from map_practicehub_pipedrive.mapping import dump, propose
from map_practicehub_pipedrive.proposal_inputs import merged_records, read_audit

NAME = "target-mapping-proposal"


def collect(lines, sample_out) -> tuple[dict, dict[str, list[dict]]]:  # noqa: ANN001
    """The catalog (streams with their schemas) and the records by stream; each line is also kept."""
    streams: dict[str, dict] = {}
    records: dict[str, list[dict]] = {}
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            message = json.loads(line)
        except json.JSONDecodeError:
            raise UsageError(f"input line {number} is not JSON") from None
        kind = message.get("type") if isinstance(message, dict) else None
        if kind == "SCHEMA":
            streams[message["stream"]] = {"tap_stream_id": message["stream"], "stream": message["stream"],
                                          "key_properties": message.get("key_properties") or [],
                                          "schema": message.get("schema") or {}}
        elif kind == "RECORD":
            records.setdefault(message["stream"], []).append(message["record"])
        else:
            continue  # STATE and the rest: a proposal keeps no bookmark
        sample_out.write(line if line.endswith("\n") else line + "\n")
    return {"streams": list(streams.values())}, records


def run(config: dict, lines) -> str:  # noqa: ANN001
    try:
        out = Path(config["mapping_file"])
        catalog_path, sample_path = Path(config["catalog_file"]), Path(config["sample_file"])
    except KeyError as missing:
        raise UsageError(f"{NAME}: setting {missing} is missing") from None
    out.parent.mkdir(parents=True, exist_ok=True)
    with sample_path.open("w", encoding="utf-8") as sample_out:
        catalog, records = collect(lines, sample_out)
    if not catalog["streams"]:
        raise UsageError(f"{NAME}: the tap sent no streams: nothing to propose a mapping from")
    catalog_path.write_text(json.dumps(catalog, indent=1) + "\n", "utf-8")
    kept = ""
    if out.exists():
        previous = out.with_name(f"{out.stem}.previous{out.suffix}")
        shutil.copyfile(out, previous)
        kept = f" (the one it replaces is {previous})"
    audit = read_audit(out.parent / "audit")  # the audit's definitions in full and profile sample, when there
    proposal = propose(catalog, merged_records(records, audit.records), audit.definitions)
    out.write_text(dump(proposal, audit.describe()), "utf-8")
    sampled = sum(len(rows) for rows in records.values())
    return (f"proposed {out}{kept}: {len(proposal['streams'])} streams, from {len(catalog['streams'])} schemas and "
            f"{sampled} sample records; review and edit it, then run: meltano invoke map-practicehub-pipedrive:confirm")


def main(argv: list[str] | None = None) -> None:
    private_outputs()
    parser = argparse.ArgumentParser(prog=NAME, description=__doc__.splitlines()[0])
    parser.add_argument("--config", action="append", required=True, help="config JSON file (later ones override)")
    args = parser.parse_args(argv)
    try:
        config: dict = {}
        for path in args.config:
            try:
                config.update(json.loads(Path(path).read_text("utf-8")))
            except (OSError, ValueError) as exc:
                raise UsageError(f"{NAME}: cannot read config file {path}: {type(exc).__name__}") from None
        message = run(config, sys.stdin)
    except click.ClickException as error:
        error.show()
        sys.exit(error.exit_code)
    print(message, file=sys.stderr)


if __name__ == "__main__":
    main()
