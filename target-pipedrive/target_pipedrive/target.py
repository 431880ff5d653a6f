"""target-pipedrive: config, one sink per stream, and the plugin commands (preflight, verify, rollback)."""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import io
import json
import sys
from pathlib import Path

import click
import requests
from singer_sdk import Sink
from singer_sdk.exceptions import ConfigValidationError, InvalidInputLine, RecordsWithoutSchemaException
from singer_sdk.target_base import Target

from target_pipedrive import rehearsal
from target_pipedrive.client import BudgetExhausted, PipedriveError
from target_pipedrive.loader import Loader
from target_pipedrive.owners import ConfigurationError
from target_pipedrive.preflight import Preflight, summary_text
from target_pipedrive.privacy import private_outputs
from target_pipedrive.reconcile import SourceCheck
from target_pipedrive.reconcile import report as reconcile_report
from target_pipedrive.sdk_compat import TargetHooks, active_sinks, retired_sinks
from target_pipedrive.settings import CONFIG_SCHEMA, Settings
from target_pipedrive.singer_input import NumberedSingerReader, UnreadableLine
from target_pipedrive.sinks import SINKS, PipedriveSink
from target_pipedrive.validation import ContractCheck, with_contract

EXIT_BUDGET = 3
EXIT_CONFIG = 2
EXIT_FAILED = 1
COMMANDS = ("preflight", "verify", "rollback", "snapshot-account")


class PlanSink(PipedriveSink):
    """`dry_run`: records only feed the preflight plan."""

    def setup(self) -> None:
        self._target.preflight.add_message({"type": "SCHEMA", "stream": self.stream_name, "schema": self.schema})

    def note_received(self) -> None:
        """A dry run has no loader: the preflight counts the records."""

    def process_batch(self, context: dict) -> None:
        for record in context.get("records", []):
            self._target.preflight.add_message({"type": "RECORD", "stream": self.stream_name, "record": record})


class ReconcileSink(PipedriveSink):
    """`reconcile`: records are what PracticeHub says now; they feed the source-side check, nothing is written."""

    def setup(self) -> None:
        """No fields, pipelines or owners are set up: the check only reads."""

    def note_received(self) -> None:
        """No loader in a check."""

    def process_batch(self, context: dict) -> None:
        for record in context.get("records", []):
            self._target.source_check.add(self.stream_name, record)


class TargetPipedrive(TargetHooks, Target):
    """Loads the Pipedrive contract streams (organizations → persons → deals → activities, notes, files)."""

    name = "target-pipedrive"
    config_jsonschema = CONFIG_SCHEMA
    default_sink_class = PipedriveSink
    message_reader_class = NumberedSingerReader  # errors name the line, never quote it (singer_input.py)

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.max_parallelism = 1  # sinks drain in arrival order; the loader parallelises the writes
        self.settings = Settings.from_config(self.config)
        if self.settings.rehearsal:
            rehearsal.check_twin(self.settings.base_url)
        self._loader: Loader | None = None
        self._preflight: Preflight | None = None
        self._source_check: SourceCheck | None = None
        self.contract = ContractCheck(self)  # the input contract and the settings' declarations (validation.py)

    @classmethod
    def print_about(cls, output_format: str | None = None) -> None:
        """The SDK's `--about`, plus the input contract (the JSON Schema of every stream)."""
        about = io.StringIO()
        with contextlib.redirect_stdout(about):
            super().print_about(output_format)
        print(with_contract(about.getvalue(), output_format))

    @property
    def loader(self) -> Loader:
        if self._loader is None:
            if self.settings.rehearsal:
                rehearsal.prepare(self.settings.state_dir)
            self._loader = Loader(self.settings)
        return self._loader

    @property
    def preflight(self) -> Preflight:
        if self._preflight is None:
            self._preflight = Preflight(self.settings)
        return self._preflight

    @property
    def source_check(self) -> SourceCheck:
        if self._source_check is None:
            self._source_check = SourceCheck(self.settings)
        return self._source_check

    def get_sink_class(self, stream_name: str) -> type[Sink]:
        if self.settings.dry_run:
            return PlanSink
        if self.settings.reconcile:
            return ReconcileSink
        if stream_name not in SINKS:
            raise ConfigurationError(
                f"stream {stream_name!r} is not part of the contract ({', '.join(SINKS)})"
            )
        return SINKS[stream_name]

    def state_message_ready(self) -> bool:
        if self.settings.reconcile or self.settings.dry_run or self.settings.rehearsal:
            return False  # a check, a plan or a rehearsal reads everything every time: no bookmark may come from it
        # STATE covers every record read so far: hold it while children still wait for a parent
        # (they are not in the ledger yet); the end-of-pipe drain sends the latest one.
        if self._loader is not None:
            self._loader.settle()  # STATE only once the ledger holds every write it covers
        if self._loader is not None and any(self._loader.waiting.values()):
            self.logger.info("holding STATE: records still wait for their parents")
            return False
        return True

    def process_endofpipe(self) -> None:
        self.contract.print_problems()  # one line per problem class of the records skipped by the contract
        # Drain and resolve children still waiting for a parent before the final STATE goes out.
        # Sinks replaced by a later SCHEMA message first: their records may be the parents of waiting children.
        for sink in [*retired_sinks(self), *active_sinks(self)]:
            self.drain_one(sink)
        if self.settings.reconcile:
            check = self.source_check
            result = check.run()
            code = reconcile_report(result, *check.write(result))
            super().process_endofpipe()
            if code:
                raise SystemExit(code)  # unexplained differences: the run fails, as verify does
            return
        if self._loader is None and not self.settings.dry_run:
            # No record changed: the run still writes its own summary, so the report compares this run with
            # the mapper's reconciliation of the same run (not the last run that loaded something), and
            # deletions noticed earlier are applied if on_source_delete asks for it.
            _ = self.loader
        if self.settings.dry_run:
            self.preflight.contract_skipped = self.contract.refused_summary()
            result, code = self.preflight.run()
            path = self.preflight.write(result)
            print(summary_text(result, path), file=sys.stderr)
            super().process_endofpipe()
            if code:
                raise SystemExit(code)  # blocked: the job fails, as the preflight command does
            return
        if self._loader is not None:
            self._loader.finish()
            summary = self._loader.report.as_dict()
            self.logger.info(
                "run %s %s: %s (reconciles: %s)",
                self.settings.run_id,
                summary["status"],
                summary["totals"],
                summary["reconciles"],
            )
            if self.settings.rehearsal:
                prediction = rehearsal.predict(self.settings.state_dir, self.settings.plan, self.settings.seats)
                rehearsal.report(prediction, rehearsal.write(self.settings.state_dir, prediction))
        super().process_endofpipe()
        if self._loader is not None:
            self._loader.close()


def _target_from_cli(config_paths: list[str]) -> TargetPipedrive:
    """The target with validated settings from `--config FILE...` or `--config ENV` (TARGET_PIPEDRIVE_*)."""
    parse_env = "ENV" in config_paths
    config: dict = {}
    for path in (p for p in config_paths if p != "ENV"):  # later files win, as with the SDK's own --config
        try:
            config.update(json.loads(Path(path).read_text(encoding="utf-8")))
        except (OSError, ValueError) as exc:  # the reason only: a config file may hold the token
            raise ConfigurationError(f"cannot read the config file {path}: {type(exc).__name__}") from None
    return TargetPipedrive(config=config, parse_env_config=parse_env, validate_config=True)


def _preflight(target: TargetPipedrive, input_path: str | None) -> int:
    """The preflight command is the target's dry run over the input: messages are read, checked against the
    input contract and the settings' declarations exactly as a load reads them, and nothing is written."""
    target.settings = dataclasses.replace(target.settings, dry_run=True, reconcile=False)
    with contextlib.ExitStack() as stack:
        handle = stack.enter_context(open(input_path, encoding="utf-8")) if input_path else sys.stdin
        try:
            target.listen(handle)
        except SystemExit as stop:  # the dry run's way to say the plan is blocked (preflight.EXIT_BLOCKED)
            return stop.code if isinstance(stop.code, int) else EXIT_FAILED
        except (UnreadableLine, RecordsWithoutSchemaException) as exc:  # a line number or a stream name only
            print(f"target-pipedrive preflight: the input is not valid Singer: {exc}", file=sys.stderr)
            return EXIT_CONFIG
        except UnicodeDecodeError:
            print("target-pipedrive preflight: the input is not UTF-8 text", file=sys.stderr)
            return EXIT_CONFIG
    return 0


def run_command(argv: list[str]) -> int:
    from target_pipedrive.rollback import run_rollback
    from target_pipedrive.snapshot import run_snapshot
    from target_pipedrive.verify import run_verify

    parser = argparse.ArgumentParser(prog=f"target-pipedrive {argv[0]}")
    parser.add_argument("--config", action="append", default=[], help="config JSON file, or ENV")
    if argv[0] == "preflight":
        parser.add_argument("--input", help="Singer messages to plan for (default: stdin)")
    if argv[0] == "snapshot-account":
        parser.add_argument("--out", required=True, help="the snapshot file to write")
        parser.add_argument("--with-records", action=argparse.BooleanOptionalAction, default=None,
                            help="include existing persons and organizations (default: the match_existing streams)")
    if argv[0] == "rollback":
        parser.add_argument("--run", dest="run_id")
        parser.add_argument("--all", action="store_true")
        parser.add_argument("--dry-run", action="store_true")
        team = parser.add_mutually_exclusive_group()
        team.add_argument("--keep-team-work", dest="team_work", action="store_const", const="keep",
                          help="leave migrated records the team has work on (and what they hang on) in place")
        team.add_argument("--discard-team-work", dest="team_work", action="store_const", const="discard",
                          help="delete the team's work on migrated records too (written to the manifest first)")
    args = parser.parse_args(argv[1:])
    settings: Settings | None = None
    try:
        target = _target_from_cli(args.config or ["ENV"])
        settings = target.settings
        if argv[0] == "preflight":
            if args.input and not Path(args.input).is_file():
                print(f"target-pipedrive preflight: no input {args.input}; `meltano run preflight` plans without"
                      " one (it runs the tap and the mapper as a dry pass into the target)", file=sys.stderr)
                return EXIT_CONFIG
            return _preflight(target, args.input)
        if argv[0] == "snapshot-account":
            return run_snapshot(settings, Path(args.out), args.with_records)
        if argv[0] in ("verify", "rollback"):
            missing = _nothing_loaded(argv[0], settings.state_dir)
            if missing is not None:
                return missing
        if argv[0] == "verify":
            return run_verify(settings)
        return run_rollback(settings, args.run_id, all_runs=args.all, dry_run=args.dry_run,
                            team_work=args.team_work or "refuse")
    except BudgetExhausted as exc:
        print(f"target-pipedrive {argv[0]}: {exc}", file=sys.stderr)
        return EXIT_BUDGET
    except (ConfigurationError, ConfigValidationError) as exc:
        print(f"target-pipedrive {argv[0]} cannot start: {_config_message(exc)}", file=sys.stderr)
        return EXIT_CONFIG
    except PipedriveError as exc:  # the call and Pipedrive's message; never the token
        print(f"target-pipedrive {argv[0]} stopped: Pipedrive refused {exc}", file=sys.stderr)
        return EXIT_FAILED
    except requests.RequestException as exc:
        print(f"target-pipedrive {argv[0]} cannot reach Pipedrive at {settings and settings.base_url}: "
              f"{type(exc).__name__}",
              file=sys.stderr)
        return EXIT_FAILED


def run(argv: list[str]) -> int:
    """`preflight`, `verify` and `rollback` subcommands; anything else is the Singer target CLI."""
    if argv and argv[0] in COMMANDS:
        return run_command(argv)
    try:
        code = TargetPipedrive.cli.main(args=argv, prog_name="target-pipedrive", standalone_mode=False)
    except BudgetExhausted as exc:
        print(f"target-pipedrive stopped: {exc}", file=sys.stderr)
        return EXIT_BUDGET
    except ConfigurationError as exc:
        print(f"target-pipedrive cannot start: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    except PipedriveError as exc:
        # Refused while setting up fields or pipelines (a plan limit, a permission): records need them first.
        print(f"target-pipedrive stopped: Pipedrive refused a schema change the records need: {exc}. What was"
              " written so far is in the ledger and the manifest; fix the cause and re-run to resume.", file=sys.stderr)
        return EXIT_CONFIG
    except click.exceptions.ClickException as exc:
        exc.show()
        return exc.exit_code
    except RecordsWithoutSchemaException as exc:  # names the stream only
        print(f"target-pipedrive stopped: the input is not valid Singer: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except UnreadableLine as exc:  # the line number and key names only (singer_input.py)
        print(f"target-pipedrive stopped: the input is not valid Singer: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except InvalidInputLine:  # the SDK's own message quotes the line, which may hold a record's values
        print("target-pipedrive stopped: the input is not valid Singer: a line is not JSON, or a message lacks a"
              " required key (type, stream, record, schema, schema.properties)", file=sys.stderr)
        return EXIT_FAILED
    if isinstance(code, int) and code != 0:
        # The SDK logs each config validation error, then exits 1 without raising.
        print("target-pipedrive cannot start: config validation failed (errors above)", file=sys.stderr)
        return EXIT_CONFIG
    return 0


def _nothing_loaded(command: str, state_dir: Path) -> int | None:
    """Verify and rollback read what a load wrote: before any load, one line says which command writes it."""
    needed = state_dir / ("ledger.sqlite" if command == "verify" else "manifest.jsonl")
    if needed.is_file():
        return None
    print(f"target-pipedrive {command}: nothing to {'verify' if command == 'verify' else 'roll back'} yet, "
          f"{needed} is written by a load (`meltano run sample-migration` or `meltano run full-migration`)",
          file=sys.stderr)
    return EXIT_CONFIG if command == "verify" else 0


def _config_message(exc: Exception) -> str:
    errors = getattr(exc, "errors", None) or []
    return "; ".join([str(exc), *errors])


def main() -> None:
    private_outputs()
    sys.exit(run(sys.argv[1:]))


if __name__ == "__main__":
    main()
