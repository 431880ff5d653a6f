"""The mapper's own subcommands: `propose` a mapping file, `confirm` it."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import click

from map_practicehub_pipedrive.mapping import (
    confirm,
    dedupe_rule,
    dump,
    non_phi_overrides,
    phi_summary,
    propose,
    read_mapping,
)
from map_practicehub_pipedrive.proposal_inputs import merged_records, read_audit

SUBCOMMANDS = ("propose", "confirm")
MAKES_PROPOSAL_INPUTS = "`meltano run propose-mapping` reads a sample from PracticeHub and proposes the mapping in one go"


class UsageError(click.ClickException):
    exit_code = 2


def read_sample(lines) -> dict[str, list[dict]]:  # noqa: ANN001
    """RECORD messages by stream from Singer lines (other messages are ignored)."""
    records: dict[str, list[dict]] = {}
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            message = json.loads(line)
        except json.JSONDecodeError:
            raise UsageError(f"sample line {number} is not JSON") from None
        if message.get("type") == "RECORD":
            records.setdefault(message["stream"], []).append(message["record"])
    return records


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="map-practicehub-pipedrive")
    commands = parser.add_subparsers(dest="command", required=True)
    proposing = commands.add_parser("propose", help="write a mapping file proposed from a catalog and/or a sample")
    proposing.add_argument("--catalog", help="catalog JSON from `tap-practicehub --discover`")
    proposing.add_argument("--sample", help="Singer messages (a sample of the tap's output); '-' for stdin")
    proposing.add_argument("--out", required=True, help="the mapping file to write")
    proposing.add_argument("--force", action="store_true", help="overwrite an existing file")
    proposing.add_argument("--audit", help="the audit's folder (default: audit/ beside the --out file's folder)")
    confirming = commands.add_parser("confirm", help="mark a reviewed mapping file as confirmed")
    confirming.add_argument("--mapping", required=True, help="the mapping file")
    confirming.add_argument("--by", help="who confirms (default: the current user)")
    for command in (proposing, confirming):  # accepted and ignored: Meltano may pass the plugin's config file
        command.add_argument("--config", action="append", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    try:
        if args.command == "propose":
            _propose(args)
        else:
            _show_non_phi(args.mapping)
            mark = confirm(args.mapping, by=args.by)
            print(f"confirmed {args.mapping} (sha256 {mark['sha256'][:12]}..., by {mark['by']})")
    except click.ClickException as error:
        error.show()
        sys.exit(error.exit_code)


def _propose(args: argparse.Namespace) -> None:
    out = Path(args.out)
    if out.exists() and not args.force:
        raise UsageError(f"{out} exists; pass --force to overwrite it")
    for given in (args.catalog, args.sample):
        if given and given != "-" and not Path(given).is_file():
            raise UsageError(f"{given} not found: {MAKES_PROPOSAL_INPUTS} (and writes it)")
    catalog = json.loads(Path(args.catalog).read_text("utf-8")) if args.catalog else None
    records = None
    if args.sample == "-":
        records = read_sample(sys.stdin)
    elif args.sample:
        with open(args.sample, encoding="utf-8") as handle:
            records = read_sample(handle)
    if catalog is None and records is None:
        raise UsageError("give --catalog and/or --sample (use --sample - to read Singer messages from stdin)")
    audit = read_audit(Path(args.audit) if args.audit else out.parent / "audit")
    proposal = propose(catalog, merged_records(records, audit.records), audit.definitions)
    out.write_text(dump(proposal, audit.describe()), "utf-8")
    streams = proposal["streams"]
    rule = dedupe_rule(proposal)
    merging = f"only the same {' + '.join(rule)}" if rule else "nothing"
    print(f"proposed {out}: {len(streams)} streams; de-duplication merges {merging} (dedupe.match_on); "
          f"review it, then run: map-practicehub-pipedrive confirm --mapping {out}")
    for line in [*audit.describe(), *phi_summary(proposal)]:
        print(f"  {line}")


def _show_non_phi(path: str) -> None:
    """What the reviewer is about to confirm: every field sent as not PHI that the source did not mark so."""
    overrides = non_phi_overrides(read_mapping(path))
    if not overrides:
        print("every field the mapping sends as not PHI is marked not PHI by PracticeHub or the known fields")
        return
    print(f"{len(overrides)} fields are sent as NOT PHI although the source did not mark them so "
          "(they go to Pipedrive under phi_policy 'exclude'; this confirmation covers them):")
    for item in overrides:
        print(f"  {item['mark']} ({item['label']}): {item['found']}")
