"""The delta: a record that landed before is updated with what the source changed since, and only that.

Of the changed fields, those the team changed in Pipedrive since they landed are left as the team set them
(team_edits.py; both changed: `on_conflict`). A record adopted from the account (origin `preexisting`) keeps
the values it had where Pipedrive could not empty them again (adopted.py). Records of the team-aware streams
are read back before the update, batched (`ids=`, 100 a call) where that is cheaper than one read each.
"""

from __future__ import annotations

import copy
import json
import logging
import math
import time
from typing import Any

from target_pipedrive import team_edits
from target_pipedrive.adopted import AdoptedRecords
from target_pipedrive.api_shapes import NO_EMPTY, empty_value
from target_pipedrive.client import PipedriveClient, PipedriveError
from target_pipedrive.contract import UNHASHED_KEYS, SkipRecord, sent_part
from target_pipedrive.entities import Entity
from target_pipedrive.landing import changed_since_landing
from target_pipedrive.ledger import JsonLines, Ledger, content_hash
from target_pipedrive.report import RunReport
from target_pipedrive.verify import read_by_ids

LOGGER = logging.getLogger("target_pipedrive")
NOT_CLEARED = ("the source no longer has a value, but Pipedrive's API has no empty value for this field:"
               " the value written earlier stays in Pipedrive")
HELD_BACK = ("not written to a pre-existing record that had no value here: Pipedrive's API cannot empty this"
             " field again, so a rollback could not undo it")
# Streams whose records the delta reads back (batched, `ids=`) before updating them, to leave the team's edits.
READ_BEFORE_UPDATE = ("organizations", "persons", "deals", "activities")
TEAM_AWARE = (*READ_BEFORE_UPDATE, "notes")  # notes are read one at a time (GET /v1/notes/{id}: 2 tokens)
GONE_FROM_PIPEDRIVE = object()  # the record is no longer in Pipedrive (deleted there since it landed)


class Delta:
    """Updates records that landed before; one per run, shared by the writer threads."""

    def __init__(self, client: PipedriveClient, ledger: Ledger, adopted: AdoptedRecords, report: RunReport,
                 conflicts: JsonLines, run_id: str, on_conflict: str) -> None:
        self.client = client
        self.ledger = ledger
        self.adopted = adopted
        self.report = report
        self.conflicts = conflicts  # with values: owner-only, like the ledger
        self.run_id = run_id
        self.on_conflict = on_conflict
        self._current: dict[tuple[str, int], Any] = {}  # records read just before the delta updates them

    def read_before_update(self, entity: Entity, updates: list[tuple[dict, dict]]) -> list[tuple]:
        """Records landed before whose content changed: read from Pipedrive together (`ids=`, 100 a call), so
        that the delta sees what the team changed there since. Unchanged records cost no read.

        Returns (record, parents, payload) for each update; payload None where building it failed (the write
        builds it again and skips the record with its reason)."""
        stream = entity.stream
        prepared, wanted = [], []
        for record, parents in updates:
            try:
                payload = entity.build_payload(record, parents)
            except (SkipRecord, PipedriveError):
                prepared.append((record, parents, None))
                continue
            entry = self.ledger.get(stream, str(record.get("source_id")))
            if entry and entry["status"] == "done" and content_hash(sent_part(payload)) != entry["content_hash"]:
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

    def update_if_changed(self, entity: Entity, source_id: str, entry: dict, payload: dict) -> None:
        """Only the fields the source changed, and of those only the ones the team did not change in Pipedrive
        since they landed."""
        stream, pipedrive_id = entity.stream, int(entry["pipedrive_id"])
        sent = sent_part(payload)
        current = self._current.pop((stream, pipedrive_id), None)
        if content_hash(sent) == entry["content_hash"]:
            self.report.count(stream, "unchanged")
            return
        previous = json.loads(entry["sent"] or "{}")
        patch, kept_values = diff(stream, previous, payload)
        for key in kept_values:
            self.report.warn(stream, key, "not_cleared", NOT_CLEARED)
        stored, team = sent, None
        if patch and stream in TEAM_AWARE:
            current = current if current is not None else self._read_current(stream, pipedrive_id)
            if current is GONE_FROM_PIPEDRIVE:
                raise SkipRecord("deleted_in_pipedrive", "deleted in Pipedrive after it landed: not written again")
            resolution = team_edits.resolve(stream, previous, patch, current, entry.get("team") or {},
                                            changed_since_landing(entry, current), self.on_conflict)
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
            entity.update(pipedrive_id, patch)
            landed = self.client.take_update_time()
        self.ledger.mark_done(stream, source_id, pipedrive_id, without(stored, held), self.run_id,
                              landed_update_time=landed, team=team)
        self.report.count(stream, "updated" if patch else "unchanged")

    def update_preexisting(self, entity: Entity, source_id: str, existing: dict, payload: dict) -> None:
        """A record of the account (made by no run of ours) adopted as this one: updated, kept as `preexisting`."""
        stream = entity.stream
        body, held = self.adopted.adopt(stream, existing, payload)
        self._report_held(stream, held)
        entity.update(existing["id"], body)
        self.ledger.mark_done(stream, source_id, existing["id"], without(sent_part(payload), held), self.run_id,
                              origin="preexisting", landed_update_time=self.client.take_update_time())
        self.report.count(stream, "updated")

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

    def _report_held(self, stream: str, keys: list[str]) -> None:
        for key in keys:
            self.report.ignored(stream, key, HELD_BACK)


def diff(stream: str, previous: dict, payload: dict) -> tuple[dict, list[str]]:
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


def without(sent: dict, keys: list[str]) -> dict:
    return {k: v for k, v in sent.items() if k not in keys} if keys else sent
