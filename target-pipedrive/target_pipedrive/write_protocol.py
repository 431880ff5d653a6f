"""The exactly-once write protocol: each source record lands in Pipedrive once, however often the run is
interrupted, retried or answered late.

The ledger (ledger.py) holds one row per (stream, source id). The protocol for one record:

1. A `done` row: the record landed before. Nothing is created; the delta updates what changed (delta.py).
2. A `pending` row: an earlier run sent the create without seeing the answer. The record is looked up
   first (as in 5) and adopted if it landed.
3. The account already holds this record under its natural key (`match_existing`): it is adopted and
   updated, never created (matching.py).
4. Otherwise the row is marked `pending` (durably, before the request leaves), the create is sent, and
   the row turns `done` with the new id once the answer is in hand (manifest line first, for rollback).
5. A create whose answer was lost (`AmbiguousWrite`) may have landed: before creating again, the record is
   looked up, at once and again once a stalled request could have landed (`AMBIGUOUS_TRIES` creates).

A lookup adopts a candidate only if no other source record owns it (in the ledger, or claimed in this run:
`Claims`). Records that look alike and have no source-ID field to tell them apart (activities, notes, files)
are created one at a time (`Turns`), so a lookup can only find look-alikes that have landed and are claimed.
A record the protocol cannot write goes to the skip file with its reason; a `pending` row of a create that
certainly did not land is removed, so the next run creates it without a lookup.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from typing import Protocol

from target_pipedrive.client import AmbiguousWrite, BudgetExhausted, PipedriveError
from target_pipedrive.contract import SkipRecord, sent_part
from target_pipedrive.ledger import Ledger, Manifest

LOGGER = logging.getLogger("target_pipedrive")
AMBIGUOUS_TRIES = 3  # creates whose answer was lost, each followed by a lookup


class Writable(Protocol):
    """What the protocol needs of an entity adapter (entities.py)."""

    stream: str

    def build_payload(self, record: dict, parents: dict[str, int]) -> dict: ...
    def ignored_keys(self, record: dict) -> list[str]: ...
    def ignored_detail(self, key: str) -> str: ...
    def create(self, payload: dict) -> int: ...
    def find_candidates(self, record: dict, payload: dict) -> list[int]: ...
    def lookalike_key(self, payload: dict) -> tuple | None: ...


class Updates(Protocol):
    """Writes to records that exist already (delta.py)."""

    def update_if_changed(self, entity, source_id: str, entry: dict, payload: dict) -> None: ...
    def update_preexisting(self, entity, source_id: str, existing: dict, payload: dict) -> None: ...


class Outcomes(Protocol):
    """Where the protocol reports what it did (the run's report and skip file: loader.py)."""

    def arrived(self, stream: str, source_id: str) -> None: ...
    def ignored(self, stream: str, key: str, detail: str) -> None: ...
    def created(self, stream: str, source_id: str, pipedrive_id: int, sent: dict) -> None: ...
    def skipped(self, stream: str, record: dict, reason: str, detail: str = "",
                pipedrive_error: str | None = None) -> None: ...


class Claims:
    """Pipedrive ids adopted as a source record: by the ledger's `done` rows, or earlier in this run."""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger
        self._lock = threading.Lock()
        self._claimed: dict[str, set[int]] = defaultdict(set)  # ids adopted after lost answers, this run

    def claim(self, stream: str, pipedrive_id: int, source_id: str) -> bool:
        """Claim `pipedrive_id` for `source_id` unless another source record owns it; True if claimed."""
        with self._lock:
            owner = self.ledger.owner_of(stream, pipedrive_id)
            if owner not in (None, source_id) or pipedrive_id in self._claimed[stream]:
                return False
            self._claimed[stream].add(pipedrive_id)
            return True


class Turns:
    """Look-alike records take turns; unrelated records never wait for each other."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._turns: dict[tuple, list] = {}  # look-alike key → [lock, records using it]

    @contextlib.contextmanager
    def taking_turns(self, stream: str, key: tuple | None) -> Iterator[None]:
        if key is None:
            yield
            return
        key = (stream, key)
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


class WriteProtocol:
    """Writes one record exactly once (see the module's docstring); thread-safe, one per run."""

    def __init__(self, ledger: Ledger, manifest: Manifest, run_id: str, *, updates: Updates, outcomes: Outcomes,
                 find_existing: Callable[[str, dict, dict], dict | None], claims: Claims,
                 landing_wait: float, landed_update_time: Callable[[], str | None] = lambda: None,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.ledger = ledger
        self.manifest = manifest
        self.run_id = run_id
        self.updates = updates
        self.outcomes = outcomes
        self.find_existing = find_existing  # (stream, record, payload) → an account record made by no run of ours
        self.claims = claims
        self.landing_wait = landing_wait  # seconds a stalled create may take to land before we look again
        self.landed_update_time = landed_update_time  # Pipedrive's update_time after this thread's last write
        self.sleep = sleep
        self.turns = Turns()

    def write(self, entity: Writable, record: dict, parents: dict[str, int], payload: dict | None = None) -> None:
        """Write `record` exactly once, its parents' Pipedrive ids in hand (`payload`: built already, by the
        delta's read-ahead). A record that cannot be written is skipped with its reason."""
        stream, source_id = entity.stream, str(record.get("source_id") or "")
        if not source_id:
            self.outcomes.skipped(stream, record, "missing_source_id", "record has no source_id")
            return
        self.outcomes.arrived(stream, source_id)
        try:
            payload = payload if payload is not None else entity.build_payload(record, parents)
            for key in entity.ignored_keys(record):
                self.outcomes.ignored(stream, key, entity.ignored_detail(key))
            entry = self.ledger.get(stream, source_id)
            if entry and entry["status"] == "done":
                self.updates.update_if_changed(entity, source_id, entry, payload)  # step 1
                return
            with self.turns.taking_turns(stream, entity.lookalike_key(payload)):
                if entry and entry["status"] == "pending":  # step 2
                    adopted = self.find_unclaimed(entity, source_id, record, payload)
                    if adopted is not None:
                        LOGGER.info("%s %s: adopted record %s created before an interruption",
                                    stream, source_id, adopted)
                        self._created(stream, source_id, adopted, payload, adopted=True)
                        return
                existing = self.find_existing(stream, record, payload)  # step 3
                if existing is not None:
                    self.updates.update_preexisting(entity, source_id, existing, payload)
                    return
                self.ledger.mark_pending(stream, source_id, self.run_id)  # step 4
                try:
                    pipedrive_id = self.create_once(entity, source_id, record, payload)
                except BudgetExhausted:
                    # Refused before or instead of the create: nothing landed, so no lookup is needed later.
                    self.ledger.forget_pending(stream, source_id)
                    raise
                self._created(stream, source_id, pipedrive_id, payload)
        except SkipRecord as exc:
            self.ledger.forget_pending(stream, source_id)
            self.outcomes.skipped(stream, record, exc.reason, exc.detail)
        except PipedriveError as exc:
            self.ledger.forget_pending(stream, source_id)
            self.outcomes.skipped(stream, record, "rejected", f"HTTP {exc.status}", pipedrive_error=exc.error)

    def create_once(self, entity: Writable, source_id: str, record: dict, payload: dict) -> int:
        """Create; after a lost answer, look the record up (again once a stalled request could have landed): step 5."""
        for _ in range(AMBIGUOUS_TRIES):
            try:
                return entity.create(payload)
            except AmbiguousWrite as exc:
                LOGGER.warning("%s: answer lost (%s); looking the record up before creating again",
                               entity.stream, exc)
                for wait in (0.0, self.landing_wait):
                    self.sleep(wait)
                    found = self.find_unclaimed(entity, source_id, record, payload)
                    if found is not None:
                        return found
        raise PipedriveError(0, f"answer lost {AMBIGUOUS_TRIES} times", "POST", entity.stream)

    def find_unclaimed(self, entity: Writable, source_id: str, record: dict, payload: dict) -> int | None:
        """A record this one may have created, provided no other source record owns it already."""
        for candidate in entity.find_candidates(record, payload):
            if self.claims.claim(entity.stream, candidate, source_id):
                return candidate
        return None

    def _created(self, stream: str, source_id: str, pipedrive_id: int, payload: dict, adopted: bool = False) -> None:
        """The manifest line first (a rollback finds every object we made), then the ledger row turns `done`."""
        sent = sent_part(payload)
        landed = None if adopted else self.landed_update_time()
        self.manifest.append(
            {"op": "create", "type": stream, "id": pipedrive_id, "run_id": self.run_id, "adopted": adopted}
        )
        self.ledger.mark_done(stream, source_id, pipedrive_id, sent, self.run_id, landed_update_time=landed)
        self.outcomes.created(stream, source_id, pipedrive_id, sent)

