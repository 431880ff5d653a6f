"""The load itself: dependency order, exactly-once writes through the ledger, skips and counts."""

from __future__ import annotations

import contextlib
import copy
import datetime as dt
import json
import logging
import math
import threading
import time
from collections import Counter, defaultdict
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from pathlib import Path
from typing import TYPE_CHECKING, Any

from target_pipedrive import identity, team_edits
from target_pipedrive.adopted import AdoptedRecords
from target_pipedrive.api_shapes import NO_EMPTY, empty_value
from target_pipedrive.client import (
    AmbiguousWrite,
    BudgetExhausted,
    PipedriveClient,
    PipedriveError,
    daily_budget,
)
from target_pipedrive.costs import CREATE_CALLS
from target_pipedrive.landing import changed_since_landing
from target_pipedrive.ledger import JsonLines, Ledger, Manifest, content_hash
from target_pipedrive.owners import ConfigurationError, Owners
from target_pipedrive.phi_guard import PhiGuard, PhiRefused
from target_pipedrive.report import RunReport, write_private
from target_pipedrive.run_lock import RunLock
from target_pipedrive.schema_setup import BIRTHDAY_SYSTEM_KEY, FIELD_ENDPOINTS, SchemaSetup
from target_pipedrive.settings import Settings, build_client
from target_pipedrive.sinks import DEPENDENCY_ORDER, SkipRecord
from target_pipedrive.source_deletions import SourceDeletions
from target_pipedrive.verify import read_by_ids

if TYPE_CHECKING:
    from target_pipedrive.sinks import PipedriveSink

LOGGER = logging.getLogger("target_pipedrive")
UNHASHED_KEYS = {"local_path", "mime_type"}
AMBIGUOUS_TRIES = 3  # creates whose answer was lost, each followed by a lookup
MAX_LANDING_WAIT = 30.0  # seconds a stalled create may take to land before we look for it again
# Natural keys used to adopt records that already exist in the account (not created by us); a person is then
# adopted only if it is the same person (target_pipedrive.identity).
MATCHERS = {"persons": "email", "organizations": "name"}
# Custom field types that refer to another entity, and the stream they refer to.
REFERENCE_TYPES = {"org": "organizations", "people": "persons"}
# Writes queued per worker beyond the one it is doing: the input keeps flowing while they land, and no
# more records than this sit in memory waiting for the API.
QUEUED_PER_WORKER = 8
WORKERS_PER_CALL_SLOT = 2
REPORT_EVERY_SECONDS = 5.0
NOT_CLEARED = ("the source no longer has a value, but Pipedrive's API has no empty value for this field:"
               " the value written earlier stays in Pipedrive")
HELD_BACK = ("not written to a pre-existing record that had no value here: Pipedrive's API cannot empty this"
             " field again, so a rollback could not undo it")
# Streams whose records the delta reads back (batched, `ids=`) before updating them, to leave the team's edits.
READ_BEFORE_UPDATE = ("organizations", "persons", "deals", "activities")
TEAM_AWARE = (*READ_BEFORE_UPDATE, "notes")  # notes are read one at a time (GET /v1/notes/{id}: 2 tokens)
GONE_FROM_PIPEDRIVE = object()  # the record is no longer in Pipedrive (deleted there since it landed)


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
        self.skips = JsonLines(self.state_dir / "skipped.jsonl")
        self.degradations = JsonLines(self.state_dir / "degraded.jsonl")
        self.conflicts = JsonLines(self.state_dir / "conflicts.jsonl")  # with values: owner-only, like the ledger
        self.deletions = SourceDeletions(self.ledger, self.client, self.manifest, self.run_id, self.state_dir,
                                         settings.on_source_delete)
        self._current: dict[tuple[str, int], Any] = {}  # records read just before the delta updates them
        self.adopted = AdoptedRecords(self.client, self.manifest, self.run_id)
        self.schema = SchemaSetup(
            self.client, self.manifest, self.run_id, source_id_field_name=settings.source_id_field_name
        )
        self.report = RunReport(self.run_id)
        self.phi_guard = PhiGuard()  # the mapper's PHI marks (SCHEMA `x-phi`), checked before every write
        self.sinks: dict[str, PipedriveSink] = {}
        self.waiting: dict[str, list[dict]] = defaultdict(list)
        self.owners: Owners | None = None
        self._existing_index: dict[str, dict[str, list[dict]]] = {}
        self._org_industries: dict[str, Any] | None = None
        self._org_names: dict[str, int] | None = None
        self.received: Counter[str] = Counter()
        self._final = False  # end of input: references that never landed are written empty
        self._lock = threading.RLock()
        self._turns: dict[tuple, list] = {}  # look-alike key → [lock, records using it]
        self._claimed: dict[str, set[int]] = defaultdict(set)  # ids adopted after lost answers, this run
        self._started = False
        # The pacer caps calls in flight at max_concurrency; the extra workers are for writes that wait for a
        # lost answer to land, so that those waits (seconds each) hold no call slot.
        self._pool = ThreadPoolExecutor(max_workers=settings.max_concurrency * WORKERS_PER_CALL_SLOT,
                                        thread_name_prefix="pipedrive")
        # Writes submitted and not yet collected, and the (stream, source id) each one writes: a second
        # record for the same source id waits until the first has landed, so writes keep their order.
        self._in_flight: dict[Future, tuple[str, str]] = {}
        self._future_of: dict[tuple[str, str], Future] = {}
        self._window = max(64, settings.max_concurrency * QUEUED_PER_WORKER)
        self._reported_at = 0.0
        self._landed = 0  # writes collected so far; waiting children are retried only after new ones
        self._landed_at_retry = -1

    # ---- set-up ---------------------------------------------------------------------------------

    def start(self) -> None:
        """Owners first: an unusable fallback owner stops the run before any write."""
        with self._lock:
            if self._started:
                return
            self._refuse_blocked_preflight()
            self.owners = Owners.fetch(self.client, self.settings.fallback_owner_email)
            self._started = True
            LOGGER.info("run %s: writing ledger and reports to %s", self.run_id, self.state_dir)
            if (self.state_dir / "preflight.json").exists():
                self.plan_budget()  # before any write; without a preflight, at the first record write

    def _refuse_blocked_preflight(self) -> None:
        """A load the preflight found cannot fit (plan limits, owners, token rights) does not start."""
        preflight = _read_json(self.state_dir / "preflight.json")
        issues = (preflight or {}).get("blocking_issues") or []
        if issues and not self.settings.accept_preflight_issues:
            raise ConfigurationError(
                f"the preflight found blocking issues ({'; '.join(issues)}). Fix them and run the preflight again, "
                "or set accept_preflight_issues: true if you have checked that the load can proceed")
        if issues:
            LOGGER.warning("loading despite the preflight's blocking issues (accept_preflight_issues): %s", issues)

    def register(self, sink: PipedriveSink) -> None:
        self.start()
        with self._lock:
            self.sinks[sink.stream_name] = sink
            try:
                schema = self.phi_guard.schema(sink.stream_name, sink.schema)
                if sink.stream_name in FIELD_ENDPOINTS:
                    self.schema.ensure_stream_fields(sink.stream_name, schema)
                pipelines = sink.schema.get("x-pipedrive-pipelines")
                if pipelines:
                    self.schema.ensure_pipelines(pipelines)
            except BudgetExhausted as exc:
                self._stopped(exc)
                raise
            self.schema.write_field_map(self.state_dir)

    # ---- loading --------------------------------------------------------------------------------

    def load(self, sink: PipedriveSink, records: list[dict]) -> None:
        """Queue a batch's writes and return while they land, so reading the input and writing overlap.

        Blocks only while more than the window of writes is queued; `settle` waits for all of them.
        """
        stream = sink.stream_name
        self.report.count(stream, "received", len(records))
        if stream in self.phi_guard.marks:
            records = self._phi_checked(stream, records)
        if not self.report.budget_plan:
            self.plan_budget()
        try:
            self._collect(block=False)
            if self._landed != self._landed_at_retry:
                self._landed_at_retry = self._landed
                self.retry_waiting()  # first: a record waiting for its parent stays ahead of a newer one for its id
            self._write_ready(sink, records)
            while len(self._in_flight) > self._window:
                self._collect(block=True)
        except BudgetExhausted as exc:
            self._stopped(exc)
            raise
        if time.monotonic() - self._reported_at >= REPORT_EVERY_SECONDS:
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
            while True:
                while self._in_flight:
                    self._collect(block=True)
                before = sum(len(v) for v in self.waiting.values())
                self.retry_waiting()
                if not self._in_flight and sum(len(v) for v in self.waiting.values()) == before:
                    return
        except BudgetExhausted as exc:
            self._stopped(exc)
            raise

    def _collect(self, *, block: bool) -> None:
        """Take finished writes off the queue; a write's error (budget spent, a fatal API answer) is raised here."""
        if not self._in_flight:
            return
        if block:
            done, _ = wait(list(self._in_flight), return_when=FIRST_COMPLETED)
        else:
            done = [future for future in self._in_flight if future.done()]
        errors = []
        for future in done:
            self._future_of.pop(self._in_flight.pop(future), None)
            if future.exception() is not None:
                errors.append(future.exception())
        self._landed += len(done)
        if errors:
            for future in self._in_flight:
                future.cancel()  # not started: never sent, so a re-run writes it
            budget = next((e for e in errors if isinstance(e, BudgetExhausted)), None)
            raise budget or errors[0]

    def _stopped(self, exc: BudgetExhausted) -> None:
        """The daily budget is spent: the summary says so before the run exits (3)."""
        self.report.status = "budget_exhausted"
        self.report.message = str(exc)
        self.finish_report()

    def _write_ready(self, sink: PipedriveSink, records: list[dict]) -> None:
        stream = sink.stream_name
        held = self.waiting[stream]
        held_ids = {str(r.get("source_id")) for r in held}
        updates: list[tuple[dict, dict]] = []  # landed before: read back in one batch, then written
        for record in records:
            key = (stream, str(record.get("source_id")))
            if key in self._future_of or key[1] in held_ids:
                held.append(record)  # the same source id is being written or waits: keep the order
                held_ids.add(key[1])
                continue
            parents = self._resolve_parents(sink, record)
            if parents is None:
                held.append(record)
                held_ids.add(key[1])
                continue
            if stream in READ_BEFORE_UPDATE and self.ledger.pipedrive_id(*key) is not None:
                updates.append((record, parents))
                held_ids.add(key[1])  # a second copy in this batch waits for this one
                continue
            self._submit(sink, record, parents)
        for record, parents, payload in self._read_before_update(sink, updates):
            self._submit(sink, record, parents, payload)
        self.report.set_waiting(stream, len(held))

    def _submit(self, sink: PipedriveSink, record: dict, parents: dict[str, int], payload: dict | None = None) -> None:
        key = (sink.stream_name, str(record.get("source_id")))
        future = self._pool.submit(self._write_one, sink, record, parents, payload)
        self._in_flight[future] = key
        self._future_of[key] = future

    def _read_before_update(self, sink: PipedriveSink, updates: list[tuple[dict, dict]]) -> list[tuple]:
        """Records landed before whose content changed: read from Pipedrive together (`ids=`, 100 a call), so
        that the delta sees what the team changed there since. Unchanged records cost no read."""
        stream = sink.stream_name
        prepared, wanted = [], []
        for record, parents in updates:
            try:
                payload = sink.build_payload(record, parents)
            except (SkipRecord, PipedriveError):
                prepared.append((record, parents, None))  # the write builds it again and skips it with its reason
                continue
            sent = {k: v for k, v in payload.items() if k not in UNHASHED_KEYS}
            entry = self.ledger.get(stream, str(record.get("source_id")))
            if entry and entry["status"] == "done" and content_hash(sent) != entry["content_hash"]:
                wanted.append(int(entry["pipedrive_id"]))
            prepared.append((record, parents, payload))
        if not wanted:
            return prepared
        costs = self.client.costs
        batches = math.ceil(len(wanted) / 100) * costs.cost("v2", "GET", f"/{stream}")
        if len(wanted) * costs.cost("v2", "GET", f"/{stream}/1") < batches:
            return prepared  # a few records: one read each (1 token) is cheaper than a list (10), done by the write
        found = read_by_ids(self.client, stream, wanted)
        for pipedrive_id in wanted:
            self._current[(stream, pipedrive_id)] = found.get(pipedrive_id, GONE_FROM_PIPEDRIVE)
        return prepared

    def _resolve_parents(self, sink: PipedriveSink, record: dict) -> dict[str, int] | None:
        parents: dict[str, int] = {}
        for key, parent_stream in sink.parent_refs.items():
            parent_source_id = record.get(key)
            if not parent_source_id:
                continue
            pipedrive_id = self._landed_id(parent_stream, str(parent_source_id))
            if pipedrive_id is None:
                return None
            parents[key] = pipedrive_id
        if not self._final and self._unlanded_reference(sink.stream_name, record):
            return None  # an org/people custom field waits for its record like a parent (written empty at the end)
        return parents

    def _landed_id(self, stream: str, source_id: str) -> int | None:
        """The Pipedrive id of a landed record; one still being written is waited for, not deferred."""
        pipedrive_id = self.ledger.pipedrive_id(stream, source_id)
        future = self._future_of.get((stream, source_id)) if pipedrive_id is None else None
        if future is not None:
            wait([future])
            self._collect(block=False)
            pipedrive_id = self.ledger.pipedrive_id(stream, source_id)
        return pipedrive_id

    def _unlanded_reference(self, stream: str, record: dict) -> bool:
        fields = self.schema.fields.get(stream) or {}
        for logical, value in (record.get("custom_fields") or {}).items():
            info = fields.get(logical)
            if info is None or info.field_type not in REFERENCE_TYPES or not isinstance(value, dict):
                continue
            source_id = value.get("source_id")
            if source_id and self._landed_id(REFERENCE_TYPES[info.field_type], str(source_id)) is None:
                return True
        return False

    def retry_waiting(self) -> None:
        """Queue children whose parents have landed since they arrived (parents still in flight: not yet)."""
        progress = True
        while progress:
            progress = False
            for stream in DEPENDENCY_ORDER:
                pending = self.waiting.get(stream)
                if not pending or stream not in self.sinks:
                    continue
                self.waiting[stream] = []
                before = len(pending)
                self._write_ready(self.sinks[stream], pending)
                progress = progress or len(self.waiting[stream]) < before

    def finish(self) -> None:
        """End of input: children whose parent never arrived go to the skip file."""
        self.settle()
        self._final = True
        self.settle()
        for stream, records in self.waiting.items():
            sink = self.sinks[stream]
            for record in records:
                missing = [
                    f"{key}={record.get(key)}"
                    for key, parent_stream in sink.parent_refs.items()
                    if record.get(key) and self.ledger.pipedrive_id(parent_stream, str(record[key])) is None
                ]
                self.skip(stream, record, "missing_parent", f"parent not loaded: {', '.join(missing)}")
            self.report.set_waiting(stream, 0)
        self.waiting.clear()
        try:
            self.report.source_deletions = self.deletions.finish()
        except BudgetExhausted as exc:
            self._stopped(exc)
            raise
        self.report.on_source_delete = self.settings.on_source_delete
        self.report.status = "completed" if self.report.status == "running" else self.report.status
        self.finish_report()

    def _write_one(self, sink: PipedriveSink, record: dict, parents: dict[str, int], payload: dict | None = None) -> None:
        stream, source_id = sink.stream_name, str(record.get("source_id") or "")
        if not source_id:
            self.skip(stream, record, "missing_source_id", "record has no source_id")
            return
        self.deletions.seen_again(source_id)
        try:
            payload = payload if payload is not None else sink.build_payload(record, parents)
            for key in sink.ignored_keys(record):
                self.report.ignored(stream, key, sink.ignored_detail(key))
            sent = {k: v for k, v in payload.items() if k not in UNHASHED_KEYS}
            entry = self.ledger.get(stream, source_id)
            if entry and entry["status"] == "done":
                self._update_if_changed(sink, source_id, entry, payload, sent)
                return
            with self._taking_turns(sink, payload):
                if entry and entry["status"] == "pending":
                    adopted = self._find_unclaimed(sink, record, payload)
                    if adopted is not None:
                        LOGGER.info("%s %s: adopted record %s created before an interruption",
                                    stream, source_id, adopted)
                        self._created(sink, source_id, adopted, sent, adopted=True)
                        return
                existing = self._match_existing(stream, record, payload)
                if existing is not None:
                    self._update_preexisting(sink, source_id, existing, payload, sent)
                    return
                self.ledger.mark_pending(stream, source_id, self.run_id)
                try:
                    pipedrive_id = self._create_once(sink, record, payload)
                except BudgetExhausted:
                    # Refused before or instead of the create: nothing landed, so no lookup is needed later.
                    self.ledger.forget_pending(stream, source_id)
                    raise
                self._created(sink, source_id, pipedrive_id, sent)
        except SkipRecord as exc:
            self.ledger.forget_pending(stream, source_id)
            self.skip(stream, record, exc.reason, exc.detail)
        except PipedriveError as exc:
            self.ledger.forget_pending(stream, source_id)
            self.skip(stream, record, "rejected", f"HTTP {exc.status}", pipedrive_error=exc.error)

    def _create_once(self, sink: PipedriveSink, record: dict, payload: dict) -> int:
        """Create; after a lost answer, look the record up (again once a stalled request could have landed)."""
        for _ in range(AMBIGUOUS_TRIES):
            try:
                return sink.create(payload)
            except AmbiguousWrite as exc:
                LOGGER.warning("%s: answer lost (%s); looking the record up before creating again",
                               sink.stream_name, exc)
                for wait in (0.0, min(self.settings.request_timeout, MAX_LANDING_WAIT)):
                    time.sleep(wait)
                    found = self._find_unclaimed(sink, record, payload)
                    if found is not None:
                        return found
        raise PipedriveError(0, f"answer lost {AMBIGUOUS_TRIES} times", "POST", sink.stream_name)

    @contextlib.contextmanager
    def _taking_turns(self, sink: PipedriveSink, payload: dict):
        """Records that look alike (no source-ID field tells them apart) are created one at a time, so a
        lookup after a lost answer can only find look-alikes that have already landed and been claimed.
        Only true look-alikes wait for each other: a slow create never holds up an unrelated one."""
        key = sink.lookalike_key(payload)
        if key is None:
            yield
            return
        key = (sink.stream_name, key)
        with self._lock:
            turn = self._turns.setdefault(key, [threading.Lock(), 0])
            turn[1] += 1
        try:
            with turn[0]:
                yield
        finally:
            with self._lock:
                turn[1] -= 1
                if not turn[1]:
                    del self._turns[key]

    def _find_unclaimed(self, sink: PipedriveSink, record: dict, payload: dict) -> int | None:
        """A record this one may have created, provided no other source record owns it already."""
        stream, source_id = sink.stream_name, str(record["source_id"])
        for candidate in sink.find_candidates(record, payload):
            with self._lock:
                owner = self.ledger.owner_of(stream, candidate)
                if (owner is None or owner == source_id) and candidate not in self._claimed[stream]:
                    self._claimed[stream].add(candidate)
                    return candidate
        return None

    def _created(self, sink: PipedriveSink, source_id: str, pipedrive_id: int, sent: dict, adopted=False) -> None:
        stream = sink.stream_name
        landed = None if adopted else self.client.take_update_time()
        self.manifest.append(
            {"op": "create", "type": stream, "id": pipedrive_id, "run_id": self.run_id, "adopted": adopted}
        )
        self.ledger.mark_done(stream, source_id, pipedrive_id, sent, self.run_id, landed_update_time=landed)
        self.report.count(stream, "created")
        if stream == "organizations" and sent.get("name"):
            with self._lock:
                if self._org_names is not None:
                    self._org_names.setdefault(str(sent["name"]).strip().lower(), pipedrive_id)

    def _update_if_changed(self, sink: PipedriveSink, source_id: str, entry: dict, payload: dict, sent: dict) -> None:
        """The delta: only the fields the source changed, and of those only the ones the team did not change
        in Pipedrive since they landed (`team_edits.py`; both changed: `on_conflict`)."""
        stream, pipedrive_id = sink.stream_name, int(entry["pipedrive_id"])
        current = self._current.pop((stream, pipedrive_id), None)
        if content_hash(sent) == entry["content_hash"]:
            self.report.count(stream, "unchanged")
            return
        previous = json.loads(entry["sent"] or "{}")
        patch, kept_values = _diff(stream, previous, payload)
        for key in kept_values:
            self.report.warn(stream, key, "not_cleared", NOT_CLEARED)
        stored, team = sent, None
        if patch and stream in TEAM_AWARE:
            current = current if current is not None else self._read_current(stream, pipedrive_id)
            if current is GONE_FROM_PIPEDRIVE:
                raise SkipRecord("deleted_in_pipedrive", "deleted in Pipedrive after it landed: not written again")
            resolution = team_edits.resolve(stream, previous, patch, current, entry.get("team") or {},
                                            changed_since_landing(entry, current), self.settings.on_conflict)
            patch, team = resolution.patch, resolution.team
            stored = team_edits.as_sent(sent, previous, resolution.unresolved)
            for conflict in resolution.conflicts:
                self._conflict(stream, source_id, pipedrive_id, conflict)
        held: list[str] = []
        if entry.get("origin") == "preexisting" and patch:
            patch, held = self.adopted.update(stream, pipedrive_id, patch,
                                              current if isinstance(current, dict) else None)
            self._report_held(stream, held)
        landed = None
        if patch:
            sink.update(pipedrive_id, patch)
            landed = self.client.take_update_time()
        self.ledger.mark_done(stream, source_id, pipedrive_id, _without(stored, held), self.run_id,
                              landed_update_time=landed, team=team)
        self.report.count(stream, "updated" if patch else "unchanged")

    def _read_current(self, stream: str, pipedrive_id: int) -> Any:
        """One record as Pipedrive holds it now (not read in a batch: a note, or a second copy in a batch)."""
        version = "v1" if stream == "notes" else "v2"
        try:
            return self.client.get(f"/{stream}/{pipedrive_id}", version=version).get("data") or GONE_FROM_PIPEDRIVE
        except PipedriveError as exc:
            if exc.status in (404, 410):
                return GONE_FROM_PIPEDRIVE
            raise

    def _conflict(self, stream: str, source_id: str, pipedrive_id: int, conflict: dict) -> None:
        """Changed in PracticeHub and by the team in Pipedrive: listed (names in the summary, values owner-only)."""
        row = {"entity": stream, "source_id": source_id, "pipedrive_id": pipedrive_id, "field": conflict["field"],
               "policy": conflict["policy"], "resolution": conflict["resolution"]}
        self.conflicts.append({**conflict, **row, "run_id": self.run_id, "at": time.time()})
        self.report.conflict(row)
        LOGGER.warning("conflict on %s %s (%s): changed in PracticeHub and in Pipedrive: %s", stream, source_id,
                       conflict["field"], conflict["resolution"])

    def _update_preexisting(self, sink: PipedriveSink, source_id: str, existing: dict, payload: dict, sent) -> None:
        stream = sink.stream_name
        body, held = self.adopted.adopt(stream, existing, payload)
        self._report_held(stream, held)
        sink.update(existing["id"], body)
        self.ledger.mark_done(stream, source_id, existing["id"], _without(sent, held), self.run_id,
                              origin="preexisting", landed_update_time=self.client.take_update_time())
        self.report.count(stream, "updated")

    def _report_held(self, stream: str, keys: list[str]) -> None:
        for key in keys:
            self.report.ignored(stream, key, HELD_BACK)

    def _match_existing(self, stream: str, record: dict, payload: dict) -> dict | None:
        """The account record this one is, made by no run of ours: an organization by name, a person by identity."""
        if stream not in self.settings.match_existing or stream not in MATCHERS:
            return None
        with self._lock:
            if stream not in self._existing_index:
                self._existing_index[stream] = self._index_existing(stream)
        index = self._existing_index[stream]
        if stream == "persons":
            return self._same_person(record, payload, index)
        found = index.get(str(payload.get("name", "")).strip().lower())
        return found[0] if found else None

    def _same_person(self, record: dict, payload: dict, index: dict[str, list[dict]]) -> dict | None:
        """An account person with this email adopted only if it is the same person under the mapper's rule
        (`x-pipedrive-identity`, target_pipedrive.identity): a family member sharing the address is not.
        Each account person with the email that is not adopted is reported, by id and field names only."""
        sink = self.sinks.get("persons")
        declared = ((sink.schema if sink is not None else {}).get("x-pipedrive-identity") or {}).get("match_on")
        rule = identity.canonical_rule(declared) if declared is not None else identity.DEFAULT_MATCH_ON
        rule = identity.DEFAULT_MATCH_ON if rule is None else rule
        source_id, born = str(record.get("source_id")), record.get("birthday")
        compared: set[int] = set()
        for email in payload.get("emails") or []:
            mine = identity.fingerprint(email.get("value"), payload.get("name"), born)
            for item in index.get(identity.email_key(email.get("value")) or "", ()):
                if item["id"] in compared:
                    continue
                compared.add(item["id"])
                theirs = identity.fingerprint(email.get("value"), item.get("name"), self._account_birthday(item))
                verdict = identity.compare(mine, theirs, rule)
                with self._lock:
                    owner = self.ledger.owner_of("persons", item["id"])
                    taken = item["id"] in self._claimed["persons"] or owner not in (None, source_id)
                    if verdict.same and not taken:
                        self._claimed["persons"].add(item["id"])
                        self.report.adoption("adopted", source_id, item["id"], verdict)
                        return item
                note = ("already adopted by another record" if verdict.same
                        else "de-duplication is off in the mapping: never adopted" if not rule
                        else "" if verdict.differs_on else f"no {', '.join(verdict.not_compared)} to compare")
                self.report.adoption("not_adopted", source_id, item["id"], verdict, note)
        return None

    def _account_birthday(self, item: dict) -> Any:
        key = self.schema.birthday_key
        if key == BIRTHDAY_SYSTEM_KEY or not key:
            return item.get("birthday")
        return (item.get("custom_fields") or {}).get(key)

    def _index_existing(self, stream: str) -> dict[str, list[dict]]:
        """Records in the account that no run of ours created, by natural key: email digest or lower-case name."""
        ours = {row["pipedrive_id"] for row in self.ledger.done_rows(stream)}
        index: dict[str, list[dict]] = defaultdict(list)
        for item in self.client.list_all(f"/{stream}"):
            if item["id"] in ours:
                continue
            if stream == "persons":
                for key in dict.fromkeys(identity.email_key(e.get("value")) for e in item.get("emails") or []):
                    if key:
                        index[key].append(item)
            elif item.get("name"):
                index[str(item["name"]).strip().lower()].append(item)
        return dict(index)

    def find_by_source_id(self, stream: str, source_id: str) -> int | None:
        """Look a record up by its source-ID custom field (20 tokens: only for pending intents)."""
        info = self.schema.source_id_fields.get(stream)
        if info is None or not info.key:
            return None
        entity_type = {"persons": "person", "organizations": "organization", "deals": "deal"}[stream]
        body = self.client.get(
            "/itemSearch/field",
            params={"entity_type": entity_type, "field": info.key, "term": source_id, "match": "exact", "limit": 2},
        )
        for hit in body.get("data") or []:
            item = hit.get("item", hit)
            if item.get("id") is not None:
                return int(item["id"])
        return None

    # ---- values ---------------------------------------------------------------------------------

    def custom_field_values(self, stream: str, record: dict) -> dict:
        fields = self.schema.fields.get(stream) or {}
        values = dict(record.get("custom_fields") or {})
        source_info = self.schema.source_id_fields.get(stream)
        if source_info is not None:
            values[source_info.logical_name] = str(record.get("source_id"))
        out: dict[str, Any] = {}
        for logical, value in values.items():
            info = fields.get(logical)
            if info is None or not info.key:
                if value is not None:
                    self.report.ignored(stream, f"custom_fields.{logical}")
                continue
            converted = self._convert(stream, info, value)
            if converted is not None:
                out[info.key] = converted
        return out

    def _convert(self, stream: str, info, value: Any) -> Any:
        if value is None:
            return None
        kind = info.field_type
        if kind in ("enum", "set"):
            labels = value if isinstance(value, list) else [value]
            ids = [self._option_id(stream, info, str(label)) for label in labels]
            if not ids:
                return None  # no option: unset (the spec refuses `[]` for a set field; null empties it)
            return ids[0] if kind == "enum" else ids
        if kind in ("double", "monetary"):
            return float(value) if not isinstance(value, int | float) else value
        if kind in REFERENCE_TYPES:
            return self._reference_id(stream, info, value)
        if kind == "user":
            user_id = self.owners.lookup(str(value)) if self.owners else None
            if user_id is None:
                self.report.ignored(stream, f"custom_fields.{info.logical_name}")
            return user_id
        if kind == "address" and isinstance(value, str):
            return {"value": value}
        if isinstance(value, list):  # a set field created as varchar (no options declared)
            return ", ".join(str(item) for item in value)
        if hasattr(value, "isoformat"):
            return value.isoformat()[:10] if kind == "date" else value.isoformat()
        return value if isinstance(value, dict) else str(value)

    def _reference_id(self, stream: str, info, value: Any) -> int | None:
        """`{"source_id"}` through the ledger, `{"name"}` (organizations) through a cached name lookup."""
        parent_stream = REFERENCE_TYPES[info.field_type]
        key = f"custom_fields.{info.logical_name}"
        if isinstance(value, dict) and value.get("source_id"):
            found = self.ledger.pipedrive_id(parent_stream, str(value["source_id"]))
            if found is None:
                self.report.unresolved(stream, key, f"refers to a {parent_stream} record that was not loaded")
            return found
        name = value.get("name") if isinstance(value, dict) else value if isinstance(value, str) else None
        if name and parent_stream == "organizations":
            found = self._org_id_by_name(str(name))
            if found is None:
                self.report.unresolved(stream, key, "no organization with this name")
            return found
        self.report.unresolved(stream, key, "neither a source_id nor an organization name")
        return None

    def _org_id_by_name(self, name: str) -> int | None:
        with self._lock:
            if self._org_names is None:
                self._org_names = {}
                for item in self.client.list_all("/organizations"):
                    if item.get("name"):
                        self._org_names.setdefault(str(item["name"]).strip().lower(), int(item["id"]))
            return self._org_names.get(name.strip().lower())

    def place_birthday(self, payload: dict, value: Any) -> None:
        """Date of birth → Contact Sync's `birthday`, else the custom "Date of birth" field (never dropped silently)."""
        text = str(value)[:10]
        try:
            dt.date.fromisoformat(text)
        except ValueError:
            self.report.warn("persons", "birthday", "invalid_value", "not a YYYY-MM-DD date: not written")
            return
        key = self.schema.birthday_key
        if self.settings.send_birthday or key == BIRTHDAY_SYSTEM_KEY:
            payload["birthday"] = text
        elif key:
            payload.setdefault("custom_fields", {})[key] = text
        else:
            self.report.ignored("persons", "birthday", "no birthday or Date of birth field could be set up")

    def _option_id(self, stream: str, info, label: str):
        if label not in info.options:
            with self._lock:
                if label not in info.options:
                    info.options.update(self.schema._add_options(stream, FIELD_ENDPOINTS[stream], info, [label]))
                    self.schema.write_field_map(self.state_dir)
        return info.options[label]

    def stage_ids(self, pipeline: str | None, stage: str | None) -> tuple[int | None, int | None]:
        if not pipeline and not stage:
            return None, None
        if pipeline and not stage:
            pipeline_id = self.schema.pipelines.get(pipeline)
            if pipeline_id is None:
                raise SkipRecord("unknown_pipeline", f"pipeline {pipeline!r} is not in x-pipedrive-pipelines")
            return pipeline_id, None
        candidates = [(p, s) for (p, s) in self.schema.stages if s == stage and (pipeline is None or p == pipeline)]
        if not candidates:
            raise SkipRecord("unknown_stage", f"stage {stage!r} of pipeline {pipeline!r} is not declared")
        key = candidates[0]
        return self.schema.pipelines[key[0]], self.schema.stages[key]

    def industry_option(self, label: str | None) -> int | None:
        if not label:
            return None
        with self._lock:
            if self._org_industries is None:
                fields = self.schema._existing_fields("organizationFields")
                industry = next((f for f in fields if f.get("field_code") == "industry"), None)
                options = (industry or {}).get("options") or []
                self._org_industries = {str(o["label"]).lower(): o["id"] for o in options}
        option = self._org_industries.get(label.lower())
        if option is None:
            self.report.ignored("organizations", "industry")
        return option

    # ---- skips and reports ----------------------------------------------------------------------

    def skip(self, stream: str, record: dict, reason: str, detail: str = "", pipedrive_error: str | None = None,
             *, log: bool = True, **extra):
        self.skips.append(
            {
                "origin": "target",
                "entity": stream,
                "source_id": record.get("source_id"),
                "reason": reason,
                "detail": detail,
                "pipedrive_error": pipedrive_error,
                "run_id": self.run_id,
                "at": time.time(),
                **extra,
            }
        )
        self.report.count(stream, "skipped")
        if log:  # contract skips are summed up per problem class instead (validation.py)
            LOGGER.warning("skipped %s %s: %s", stream, record.get("source_id"), reason)

    def record_transform_skips(self, records: list[dict]) -> None:
        for record in records:
            self.skips.append(
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
        self.finish_report()

    def record_degradations(self, records: list[dict]) -> None:
        """The mapper's field-level degradations (values that could not land as they were): kept for the report."""
        for record in records:
            self.degradations.append({
                "source_stream": record.get("source_stream"), "source_id": record.get("source_id"),
                "field": record.get("field"), "reason": record.get("reason"), "action": record.get("action"),
                "run_id": self.run_id, "at": time.time()})

    def note_received(self, stream: str) -> None:
        self.received[stream] += 1

    def plan_budget(self) -> dict:
        """Tokens the run will cost against the daily budget (counts only), before the first record write.

        From `preflight.json` when this state folder has one, else from the records received so far.
        """
        budget = self.client.daily_limit or daily_budget(self.settings.plan, self.settings.seats)
        preflight = _read_json(self.state_dir / "preflight.json")
        if preflight and preflight.get("planned_tokens") is not None:
            tokens = int(preflight["planned_tokens"])
            records = sum((preflight.get("records") or {}).values())
            # Records loaded since the preflight (a sample run, an earlier attempt) cost nothing now.
            landed = self.ledger.counts()
            for stream, plan in (preflight.get("planned_calls") or {}).items():
                since = min(max(landed.get(stream, 0) - int(plan.get("already_loaded") or 0), 0), int(plan.get("new") or 0))
                tokens -= since * int(plan.get("create_cost") or 0)
            basis = "preflight"
            note = (f"from preflight.json (run {preflight.get('run_id')}): the whole input, minus records already "
                    "loaded (then, or since)")
        else:
            counts = {s: n for s, n in self.received.items() if s in CREATE_CALLS}
            tokens = sum(n * self.client.costs.cost(*CREATE_CALLS[s]) for s, n in counts.items())
            records = sum(counts.values())
            basis = "records_received_before_first_write"
            note = ("estimated from the records received before the first write, all counted as creates: the"
                    " input may hold more (run `target-pipedrive preflight` for the whole input)")
        days = max(math.ceil(tokens / budget), 1) if tokens else 0
        plan = {"tokens_estimated": tokens, "daily_budget": budget, "days_needed": days, "records_counted": records,
                "daily_tokens_remaining": self.client.daily_remaining, "basis": basis, "note": note}
        self.report.budget_plan = plan
        LOGGER.info("token estimate: %d tokens for %d records (%s); daily budget %d tokens: %d day(s)",
                    tokens, records, basis, budget, days)
        if days > 1:
            LOGGER.warning("this load needs about %d days of the daily budget: it stops cleanly (exit 3) when the"
                           " budget is spent; re-run the same command after each reset to resume", days)
        return plan

    def finish_report(self) -> Path:
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
        self._pool.shutdown(wait=True)
        self.ledger.close()
        self.client.close()
        self.run_lock.release()


def _diff(stream: str, previous: dict, payload: dict) -> tuple[dict, list[str]]:
    """What changed since the last write, and the keys that disappeared but cannot be emptied.

    A key that disappeared is emptied the way its schema allows (`api_shapes.EMPTY_VALUES`: null only
    where it is nullable and for custom fields, `[]`, `""`, an empty address); one whose schema has no
    empty value (an id, a number, a date) is left as it is in Pipedrive and returned for the report.
    """
    patch: dict[str, Any] = {}
    for key, value in payload.items():
        if key == "custom_fields":
            before = previous.get("custom_fields") or {}
            changed = {k: v for k, v in value.items() if before.get(k) != v}
            changed.update({k: None for k in before if k not in value})
            if changed:
                patch["custom_fields"] = changed
        elif previous.get(key) != value:
            patch[key] = value
    kept_values = []
    for key in previous:
        if key in payload or key in UNHASHED_KEYS or key == "custom_fields":
            continue
        empty = empty_value(stream, key)
        if empty is NO_EMPTY:
            kept_values.append(key)
        else:
            patch[key] = copy.deepcopy(empty)
    return patch, sorted(kept_values)


def _without(sent: dict, keys: list[str]) -> dict:
    return {k: v for k, v in sent.items() if k not in keys} if keys else sent


def _read_json(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
