"""One load run: builds the engine's parts, hands them what they need, and keeps the run's files and report.

The parts, in the order a record meets them (data flows one way, nothing here is called back):
  sinks.py (SDK batches) → `Loader.load` → PHI guard → scheduler.py (parents first, one write per source id)
  → write_protocol.py (exactly once, through the ledger) → entities.py (payload, create, find) with
  values.py (value conversion), matching.py (records already in the account) and delta.py (updates).
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections import Counter
from pathlib import Path

from target_pipedrive.adopted import AdoptedRecords
from target_pipedrive.budget import plan_budget, read_preflight
from target_pipedrive.client import BudgetExhausted, PipedriveClient, daily_budget
from target_pipedrive.delta import Delta
from target_pipedrive.entities import ENTITIES, EntityContext
from target_pipedrive.ledger import JsonLines, Ledger, Manifest
from target_pipedrive.matching import ExistingRecords
from target_pipedrive.owners import ConfigurationError, Owners
from target_pipedrive.phi_guard import PhiGuard, PhiRefused
from target_pipedrive.report import RunReport, write_private
from target_pipedrive.run_lock import RunLock
from target_pipedrive.scheduler import WriteScheduler
from target_pipedrive.schema_setup import FIELD_ENDPOINTS, SchemaSetup
from target_pipedrive.settings import Settings, build_client
from target_pipedrive.source_deletions import SourceDeletions
from target_pipedrive.values import ValueConverter, references
from target_pipedrive.write_protocol import Claims, WriteProtocol

LOGGER = logging.getLogger("target_pipedrive")
MAX_LANDING_WAIT = 30.0  # seconds a stalled create may take to land before we look for it again
REPORT_EVERY_SECONDS = 5.0  # while loading, summary.json is rewritten at most this often (and at the end)
report_clock = time.monotonic  # what paces those rewrites (a module attribute so tests can freeze it)


class RunOutcomes:
    """What the write protocol reports: counts, the skip file, records seen again in the source."""

    def __init__(self, report: RunReport, skips: JsonLines, deletions: SourceDeletions, values: ValueConverter,
                 run_id: str) -> None:
        self.report = report
        self.skips = skips
        self.deletions = deletions
        self.values = values
        self.run_id = run_id

    def arrived(self, stream: str, source_id: str) -> None:
        self.deletions.seen_again(source_id)

    def ignored(self, stream: str, key: str, detail: str) -> None:
        self.report.ignored(stream, key, detail)

    def created(self, stream: str, source_id: str, pipedrive_id: int, sent: dict) -> None:
        self.report.count(stream, "created")
        self.values.landed(stream, sent, pipedrive_id)

    def skipped(self, stream: str, record: dict, reason: str, detail: str = "",
                pipedrive_error: str | None = None, *, log: bool = True, **extra) -> None:
        self.skips.append({"origin": "target", "entity": stream, "source_id": record.get("source_id"),
                           "reason": reason, "detail": detail, "pipedrive_error": pipedrive_error,
                           "run_id": self.run_id, "at": time.time(), **extra})
        self.report.count(stream, "skipped")
        if log:  # contract skips are summed up per problem class instead (validation.py)
            LOGGER.warning("skipped %s %s: %s", stream, record.get("source_id"), reason)


class Loader:
    """Shared by every sink of one run."""

    def __init__(self, settings: Settings, client: PipedriveClient | None = None) -> None:
        self.settings = settings
        self.state_dir = settings.state_dir
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.run_lock = RunLock(self.state_dir)  # before the ledger: a second live load stops here
        self.run_id = settings.run_id
        self.client = client or build_client(settings)
        self.ledger = Ledger(self.state_dir / "ledger.sqlite")
        self.manifest = Manifest(self.state_dir / "manifest.jsonl")
        self.degradations = JsonLines(self.state_dir / "degraded.jsonl")
        self.deletions = SourceDeletions(self.ledger, self.client, self.manifest, self.run_id, self.state_dir,
                                         settings.on_source_delete)
        self.schema = SchemaSetup(
            self.client, self.manifest, self.run_id, source_id_field_name=settings.source_id_field_name
        )
        self.report = RunReport(self.run_id)
        self.phi_guard = PhiGuard()  # the mapper's PHI marks (SCHEMA `x-phi`), checked before every write
        self.owners: Owners | None = None
        self.received: Counter[str] = Counter()
        self.values = ValueConverter(self.schema, self.ledger, self.client, self.report, self.state_dir,
                                     send_birthday=settings.send_birthday)
        self.outcomes = RunOutcomes(self.report, JsonLines(self.state_dir / "skipped.jsonl"), self.deletions,
                                    self.values, self.run_id)
        claims = Claims(self.ledger)
        self.existing = ExistingRecords(self.client, self.ledger, self.schema, self.report, claims,
                                        settings.match_existing)
        delta = Delta(self.client, self.ledger, AdoptedRecords(self.client, self.manifest, self.run_id), self.report,
                      JsonLines(self.state_dir / "conflicts.jsonl"), self.run_id, settings.on_conflict)
        self.protocol = WriteProtocol(
            self.ledger, self.manifest, self.run_id, updates=delta, outcomes=self.outcomes,
            find_existing=self.existing.find, claims=claims,
            landing_wait=min(settings.request_timeout, MAX_LANDING_WAIT),
            landed_update_time=self.client.take_update_time)
        self.scheduler = WriteScheduler(
            self.ledger, self.report, write=self.protocol.write, read_before_update=delta.read_before_update,
            references=lambda stream, record: references(self.schema, stream, record),
            max_concurrency=settings.max_concurrency)
        self._started = False
        self._reported_at = -math.inf  # when finish_report last wrote the summary (report_clock); never yet

    @property
    def waiting(self) -> dict[str, list[dict]]:
        """Records that wait for a parent (or an earlier write of their source id), by stream."""
        return self.scheduler.waiting

    # ---- set-up ---------------------------------------------------------------------------------

    def start(self) -> None:
        """Owners first: an unusable fallback owner stops the run before any write."""
        if self._started:
            return
        self._refuse_blocked_preflight()
        self.owners = Owners.fetch(self.client, self.settings.fallback_owner_email)
        self.values.owners = self.owners
        self._started = True
        LOGGER.info("run %s: writing ledger and reports to %s", self.run_id, self.state_dir)
        if (self.state_dir / "preflight.json").exists():
            self.plan_budget()  # before any write; without a preflight, at the first record write

    def _refuse_blocked_preflight(self) -> None:
        """A load the preflight found cannot fit (plan limits, owners, token rights) does not start."""
        issues = (read_preflight(self.state_dir) or {}).get("blocking_issues") or []
        if issues and not self.settings.accept_preflight_issues:
            raise ConfigurationError(
                f"the preflight found blocking issues ({'; '.join(issues)}). Fix them and run the preflight again, "
                "or set accept_preflight_issues: true if you have checked that the load can proceed")
        if issues:
            LOGGER.warning("loading despite the preflight's blocking issues (accept_preflight_issues): %s", issues)

    def register(self, stream: str, schema: dict) -> None:
        """A stream's SCHEMA message: its custom fields, pipelines and stages exist before its first record."""
        self.start()
        try:
            guarded = self.phi_guard.schema(stream, schema)
            if stream in FIELD_ENDPOINTS:
                self.schema.ensure_stream_fields(stream, guarded)
            pipelines = schema.get("x-pipedrive-pipelines")
            if pipelines:
                self.schema.ensure_pipelines(pipelines)
        except BudgetExhausted as exc:
            self._stopped(exc)
            raise
        self.existing.declare(stream, schema)
        if stream in ENTITIES:
            context = EntityContext(self.client, self.values, self.owners, self.schema, self.settings.currency)
            self.scheduler.entities[stream] = ENTITIES[stream](context, schema)
        self.schema.write_field_map(self.state_dir)

    # ---- loading --------------------------------------------------------------------------------

    def note_received(self, stream: str) -> None:
        self.received[stream] += 1

    def load(self, stream: str, records: list[dict]) -> None:
        """Queue a batch's writes and return while they land, so reading the input and writing overlap."""
        self.report.count(stream, "received", len(records))
        if stream in self.phi_guard.marks:
            records = self._phi_checked(stream, records)
        if not self.report.budget_plan:
            self.plan_budget()
        try:
            self.scheduler.queue(stream, records)
        except BudgetExhausted as exc:
            self._stopped(exc)
            raise
        self._report_if_due()

    def _report_if_due(self) -> None:
        """The summary while loading: after the first batch, then at most every REPORT_EVERY_SECONDS."""
        if report_clock() - self._reported_at >= REPORT_EVERY_SECONDS:
            self.finish_report()

    def _phi_checked(self, stream: str, records: list[dict]) -> list[dict]:
        """Records with what the PHI marks forbid taken out; records of a left-out PHI stream skipped."""
        kept = []
        for record in records:
            try:
                kept.append(self.phi_guard.check(stream, record))
            except PhiRefused as refused:
                self.skip(stream, record, "phi_guard", str(refused))
        return kept

    def settle(self) -> None:
        """Wait until every queued write has landed (or failed), then write children whose parents now exist."""
        try:
            self.scheduler.settle()
        except BudgetExhausted as exc:
            self._stopped(exc)
            raise

    def finish(self) -> None:
        """End of input: children whose parent never arrived go to the skip file."""
        try:
            left = self.scheduler.finish()
        except BudgetExhausted as exc:
            self._stopped(exc)
            raise
        for stream, records in left.items():
            entity = self.scheduler.entities[stream]
            for record in records:
                missing = [
                    f"{key}={record.get(key)}"
                    for key, parent_stream in entity.parent_refs.items()
                    if record.get(key) and self.ledger.pipedrive_id(parent_stream, str(record[key])) is None
                ]
                self.skip(stream, record, "missing_parent", f"parent not loaded: {', '.join(missing)}")
        try:
            self.report.source_deletions = self.deletions.finish()
        except BudgetExhausted as exc:
            self._stopped(exc)
            raise
        self.report.on_source_delete = self.settings.on_source_delete
        self.report.status = "completed" if self.report.status == "running" else self.report.status
        self.finish_report()

    def _stopped(self, exc: BudgetExhausted) -> None:
        """The daily budget is spent: the summary says so before the run exits (3)."""
        self.report.status = "budget_exhausted"
        self.report.message = str(exc)
        self.finish_report()

    # ---- the mapper's bookkeeping streams -------------------------------------------------------

    def skip(self, stream: str, record: dict, reason: str, detail: str = "", pipedrive_error: str | None = None,
             *, log: bool = True, **extra):
        self.outcomes.skipped(stream, record, reason, detail, pipedrive_error, log=log, **extra)

    def record_transform_skips(self, records: list[dict]) -> None:
        for record in records:
            self.outcomes.skips.append(
                {
                    "origin": "transform",
                    "entity": record.get("source_stream"),
                    "source_id": record.get("source_id"),
                    "reason": record.get("reason"),
                    "detail": record.get("detail"),
                    "run_id": self.run_id,
                    "at": time.time(),
                }
            )
            if record.get("reason") == "deleted_in_source" and record.get("source_id"):
                self.deletions.notice(str(record["source_id"]), "marked_deleted")
        self.report.transform_skipped += len(records)
        self._report_if_due()

    def record_degradations(self, records: list[dict]) -> None:
        """The mapper's field-level degradations (values that could not land as they were): kept for the report."""
        for record in records:
            self.degradations.append({
                "source_stream": record.get("source_stream"), "source_id": record.get("source_id"),
                "field": record.get("field"), "reason": record.get("reason"), "action": record.get("action"),
                "run_id": self.run_id, "at": time.time()})

    # ---- budget and report ----------------------------------------------------------------------

    def plan_budget(self) -> dict:
        """Tokens the run will cost against the daily budget, before the first record write (budget.py)."""
        plan = plan_budget(self.client, self.settings.plan, self.settings.seats, self.state_dir, self.ledger,
                           self.received)
        self.report.budget_plan = plan
        return plan

    def finish_report(self) -> Path:
        """Write summary.json and metrics.jsonl now (the end of the run and a stop always call this)."""
        self._reported_at = report_clock()
        self.report.unmatched_owners = self.owners.report() if self.owners else []
        self.report.api = {
            "calls": self.client.stats.calls,
            "tokens": self.client.stats.tokens,
            "status_429": self.client.stats.status_429,
            "retries": self.client.stats.retries,
            "writes": self.client.stats.writes,
            "daily_tokens_remaining": self.client.daily_remaining,
            "daily_token_limit": self.client.daily_limit or daily_budget(self.settings.plan, self.settings.seats),
            "elapsed_seconds": round(time.time() - self.report.started_at, 3),
        }
        self.report.fields = self.schema.field_map_rows()
        self.report.phi_guard = self.phi_guard.report()
        if self.report.budget_plan:
            plan = self.report.budget_plan
            plan["tokens_used"] = self.client.stats.tokens
            # How well the estimate the run was planned with predicted what it spent (1.0 = exactly).
            plan["estimate_accuracy"] = (round(plan["tokens_used"] / plan["tokens_estimated"], 3)
                                         if plan.get("tokens_estimated") else None)
        rows = [
            json.dumps({"t": second, "calls": calls, "status_429": limited, "tokens": tokens})
            for second, (calls, limited, tokens) in sorted(dict(self.client.stats.per_second).items())
        ]
        write_private(self.state_dir / "metrics.jsonl", "".join(row + "\n" for row in rows))
        return self.report.write(self.state_dir)

    def close(self) -> None:
        self.scheduler.shutdown()
        self.ledger.close()
        self.client.close()
        self.run_lock.release()
