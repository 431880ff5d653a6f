"""Which record is written when: parents before children, one write at a time per source id, and the input
still flowing while writes land.

Records are queued on a thread pool and `queue` returns at once unless more than a window of writes is in
flight, so reading the input and writing overlap. A record waits (`waiting`) while a parent, or a record its
org/people custom field refers to, has not landed, and while an earlier record with its source id is being
written; it is queued as soon as they land. At the end of the input (`finish`), references that never landed
are written empty and what still waits for a parent is handed back to be skipped.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait

from target_pipedrive.client import BudgetExhausted
from target_pipedrive.contract import DEPENDENCY_ORDER
from target_pipedrive.delta import READ_BEFORE_UPDATE
from target_pipedrive.entities import Entity
from target_pipedrive.ledger import Ledger
from target_pipedrive.report import RunReport

# Writes queued per worker beyond the one it is doing: the input keeps flowing while they land, and no
# more records than this sit in memory waiting for the API.
QUEUED_PER_WORKER = 8
WORKERS_PER_CALL_SLOT = 2

Write = Callable[[Entity, dict, dict, "dict | None"], None]
ReadBeforeUpdate = Callable[[Entity, list[tuple[dict, dict]]], list[tuple]]
References = Callable[[str, dict], list[tuple[str, str]]]


class WriteScheduler:
    """Orders one run's writes; `queue`, `settle` and `finish` are called from the SDK's thread only."""

    def __init__(self, ledger: Ledger, report: RunReport, *, write: Write, read_before_update: ReadBeforeUpdate,
                 references: References, max_concurrency: int) -> None:
        self.ledger = ledger
        self.report = report
        self.write = write  # the exactly-once protocol (write_protocol.py), run on a worker thread
        self.read_before_update = read_before_update
        self.references = references  # records an org/people custom field refers to: waited for like parents
        self.entities: dict[str, Entity] = {}  # stream → its adapter, as the latest SCHEMA message set it up
        self.waiting: dict[str, list[dict]] = defaultdict(list)
        self._final = False  # end of input: references that never landed are written empty
        # The pacer caps calls in flight at max_concurrency; the extra workers are for writes that wait for a
        # lost answer to land, so that those waits (seconds each) hold no call slot.
        self._pool = ThreadPoolExecutor(max_workers=max_concurrency * WORKERS_PER_CALL_SLOT,
                                        thread_name_prefix="pipedrive")
        # Writes submitted and not yet collected, and the (stream, source id) each one writes: a second
        # record for the same source id waits until the first has landed, so writes keep their order.
        self._in_flight: dict[Future, tuple[str, str]] = {}
        self._future_of: dict[tuple[str, str], Future] = {}
        self._window = max(64, max_concurrency * QUEUED_PER_WORKER)
        self._landed = 0  # writes collected so far; waiting children are retried only after new ones
        self._landed_at_retry = -1

    def queue(self, stream: str, records: list[dict]) -> None:
        """Queue a batch's writes and return while they land; blocks only while more than the window is queued."""
        self._collect(block=False)
        if self._landed != self._landed_at_retry:
            self._landed_at_retry = self._landed
            self.retry_waiting()  # first: a record waiting for its parent stays ahead of a newer one for its id
        self._write_ready(self.entities[stream], records)
        while len(self._in_flight) > self._window:
            self._collect(block=True)

    def settle(self) -> None:
        """Wait until every queued write has landed (or failed), then queue children whose parents now exist."""
        while True:
            while self._in_flight:
                self._collect(block=True)
            before = self._waiting_count()
            self.retry_waiting()
            if not self._in_flight and self._waiting_count() == before:
                return

    def finish(self) -> dict[str, list[dict]]:
        """End of input: settle, write the records whose references never landed, and hand back (and forget)
        the records still waiting for a parent."""
        self.settle()
        self._final = True
        self.settle()
        left = {stream: records for stream, records in self.waiting.items()}
        for stream in left:
            self.report.set_waiting(stream, 0)
        self.waiting.clear()
        return left

    def shutdown(self) -> None:
        self._pool.shutdown(wait=True)

    def retry_waiting(self) -> None:
        """Queue children whose parents have landed since they arrived (parents still in flight: not yet)."""
        progress = True
        while progress:
            progress = False
            for stream in DEPENDENCY_ORDER:
                pending = self.waiting.get(stream)
                if not pending or stream not in self.entities:
                    continue
                self.waiting[stream] = []
                before = len(pending)
                self._write_ready(self.entities[stream], pending)
                progress = progress or len(self.waiting[stream]) < before

    # ---- internals ------------------------------------------------------------------------------

    def _waiting_count(self) -> int:
        return sum(len(records) for records in self.waiting.values())

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

    def _write_ready(self, entity: Entity, records: list[dict]) -> None:
        stream = entity.stream
        held = self.waiting[stream]
        held_ids = {str(r.get("source_id")) for r in held}
        updates: list[tuple[dict, dict]] = []  # landed before: read back in one batch, then written
        for record in records:
            key = (stream, str(record.get("source_id")))
            if key in self._future_of or key[1] in held_ids:
                held.append(record)  # the same source id is being written or waits: keep the order
                held_ids.add(key[1])
                continue
            parents = self._resolve_parents(entity, record)
            if parents is None:
                held.append(record)
                held_ids.add(key[1])
                continue
            if stream in READ_BEFORE_UPDATE and self.ledger.pipedrive_id(*key) is not None:
                updates.append((record, parents))
                held_ids.add(key[1])  # a second copy in this batch waits for this one
                continue
            self._submit(entity, record, parents)
        if updates:
            for record, parents, payload in self.read_before_update(entity, updates):
                self._submit(entity, record, parents, payload)
        self.report.set_waiting(stream, len(held))

    def _submit(self, entity: Entity, record: dict, parents: dict[str, int], payload: dict | None = None) -> None:
        key = (entity.stream, str(record.get("source_id")))
        future = self._pool.submit(self.write, entity, record, parents, payload)
        self._in_flight[future] = key
        self._future_of[key] = future

    def _resolve_parents(self, entity: Entity, record: dict) -> dict[str, int] | None:
        """The parents' Pipedrive ids, or None while one has not landed."""
        parents: dict[str, int] = {}
        for key, parent_stream in entity.parent_refs.items():
            parent_source_id = record.get(key)
            if not parent_source_id:
                continue
            pipedrive_id = self._landed_id(parent_stream, str(parent_source_id))
            if pipedrive_id is None:
                return None
            parents[key] = pipedrive_id
        if not self._final and any(self._landed_id(*ref) is None for ref in self.references(entity.stream, record)):
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
