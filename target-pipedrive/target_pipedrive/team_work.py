"""Work the team did in Pipedrive on migrated records, read from Pipedrive before anything is deleted.

After go-live the team works in Pipedrive: a rollback (or `on_source_delete: delete`) that deleted the
migrated records would take that work with it, or leave it orphaned. What counts:

- `added`: a record no run of ours wrote that hangs on a migrated record about to be deleted: a deal on a
  migrated person or organization (or in a pipeline or stage the migration created), an activity on a
  migrated deal, person (as a participant too) or organization, a note or a file on any of them, a person
  in a migrated organization; and what hangs on those in turn (a note on the team's deal);
- `changed`: a migrated record whose `update_time` moved since our last write (`landing.py`): the fields
  it differs on from what we sent are listed; for a record that existed before the migration (adopted,
  restored rather than deleted) only a change to a field we wrote counts;
- `values`: a record of the team's holding a value in a custom field the migration created (deleting the
  field deletes the value).

Cost: one walk of each list, 500 records a page (files: 100), the v2 lists and notes only from the
migration's first write on (`updated_since`: anything that can hang on a migrated record was written
since). A handful of records (a source deletion) is looked up by parent instead, when that is cheaper.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field

from target_pipedrive.api_shapes import id_of, is_empty
from target_pipedrive.client import PipedriveClient, PipedriveError
from target_pipedrive.contract import DEPENDENCY_ORDER
from target_pipedrive.landing import changed_since_landing
from target_pipedrive.ledger import Ledger
from target_pipedrive.verify import field_diffs, read_by_ids

ENTITY_STREAMS = tuple(DEPENDENCY_ORDER)  # the migrated records' streams, parents first
V1_STREAMS = {"notes", "files"}
PAGE = {"notes": 500, "files": 100}  # v2 lists: 500
# The keys through which a record hangs on another: (key, the stream it points at).
PARENT_KEYS = {
    "persons": (("org_id", "organizations"),),
    "deals": (("person_id", "persons"), ("org_id", "organizations"), ("pipeline_id", "pipeline"),
              ("stage_id", "stage")),
    "activities": (("deal_id", "deals"), ("person_id", "persons"), ("org_id", "organizations")),
    "notes": (("deal_id", "deals"), ("person_id", "persons"), ("org_id", "organizations")),
    "files": (("deal_id", "deals"), ("person_id", "persons"), ("org_id", "organizations")),
}
# Looked up by parent (`narrow`): the lists that take a parent filter, per parent stream.
CHILD_LISTS = {
    "persons": (("deals", "person_id"), ("activities", "person_id"), ("notes", "person_id")),
    "organizations": (("persons", "org_id"), ("deals", "org_id"), ("activities", "org_id"), ("notes", "org_id")),
    "deals": (("activities", "deal_id"), ("notes", "deal_id")),
}
UNSENT_FIELDS = "fields the migration does not send"


@dataclass
class Finding:
    kind: str  # added | changed | values
    type: str
    id: int
    on: list[tuple[str, int]]  # the migrated records it hangs on (itself, for `changed`)
    fields: list[str] = field(default_factory=list)
    record: dict = field(default_factory=dict, repr=False)  # as read from Pipedrive (for a discard's manifest)

    def as_dict(self) -> dict:
        return {"kind": self.kind, "type": self.type, "id": self.id, "on": [list(p) for p in self.on],
                "fields": self.fields}

    def describe(self, labels: dict[tuple[str, int], str]) -> str:
        def name(key: tuple[str, int]) -> str:
            return f"{key[0]} {key[1]}" + (f" ({labels[key]})" if key in labels else "")

        if self.kind == "changed":
            return f"{name((self.type, self.id))} changed in Pipedrive since it landed: {', '.join(self.fields)}"
        if self.kind == "values":
            return f"{self.type} {self.id} (the team's) holds values in field(s) the migration created: " \
                   f"{', '.join(self.fields)}"
        return f"{self.type} {self.id} added by the team, on {', '.join(name(p) for p in self.on)}"


def parents_of(stream: str, record: dict) -> list[tuple[str, int]]:
    """The records `record` hangs on, as (stream, id): its links, and an activity's participants."""
    out: list[tuple[str, int]] = []
    for key, target in PARENT_KEYS.get(stream, ()):
        ident = id_of(record.get(key))
        if ident is not None:
            out.append((target, ident))
    if stream == "activities":
        for participant in record.get("participants") or []:
            ident = id_of(participant.get("person_id")) if isinstance(participant, dict) else None
            if ident is not None and ("persons", ident) not in out:
                out.append(("persons", ident))
    return out


def since_text(epoch: float | None) -> str | None:
    if epoch is None:
        return None
    return dt.datetime.fromtimestamp(math.floor(epoch) - 1, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class TeamWork:
    """Finds team work on migrated records; `ours` is every record a run of ours wrote (ledger and manifest)."""

    def __init__(self, client: PipedriveClient, ledger: Ledger, manifest_entries: list[dict]) -> None:
        self.client = client
        self.ledger = ledger
        # Every landed record's source id; its ledger row (what was sent) is read only when a check needs it,
        # so a rollback of a whole clinic does not hold every payload.
        self._landed_times = ledger.landed_times(ENTITY_STREAMS)
        self.landed: dict[tuple[str, int], str] = {key: row[0] for key, row in self._landed_times.items()}
        self.ours = set(self.landed)
        for entry in manifest_entries:
            if entry.get("op") in ("create", "discard") and entry.get("type") in ENTITY_STREAMS and "id" in entry:
                self.ours.add((entry["type"], int(entry["id"])))
        self.created_fields = {entry["key"] for entry in manifest_entries
                               if entry.get("op") == "create" and entry.get("type") == "field" and entry.get("key")}
        times = [entry["at"] for entry in manifest_entries if entry.get("at")]
        self.since = since_text(min(times)) if times else None
        self.calls = 0
        self.tokens = 0

    def label(self, key: tuple[str, int]) -> str | None:
        return self.landed.get(key)

    def _changed_since_landing(self, key: tuple[str, int], item: dict) -> bool:
        if key not in self._landed_times:
            return False
        _, landed, updated_at = self._landed_times[key]
        return changed_since_landing({"landed_update_time": landed, "updated_at": updated_at}, item)

    def row(self, key: tuple[str, int]) -> dict | None:
        """The ledger row of a landed record of ours (what was sent, when it landed), or None."""
        if key not in self.landed:
            return None
        row = self.ledger.done_row_by_id(*key)
        return {**row, "stream": key[0]} if row else None

    # ---- what to read -----------------------------------------------------------------------------

    def scan_calls(self) -> int:
        """Pages a full scan reads: at least one a list, one more per page of records we know of."""
        known: dict[str, int] = defaultdict(int)
        for stream, _ in self.landed:
            known[stream] += 1
        lists = {**{s: known[s] for s in ENTITY_STREAMS}, "deals/archived": 0}
        return sum(max(1, math.ceil(n / PAGE.get(s, 500))) for s, n in lists.items())

    def _read(self, call):
        """Run one read, counting its calls and tokens against the scan."""
        before = (self.client.stats.calls, self.client.stats.tokens)
        try:
            return call()
        finally:
            self.calls += self.client.stats.calls - before[0]
            self.tokens += self.client.stats.tokens - before[1]

    def _listed(self, stream: str, params: dict | None = None) -> list[dict]:
        return list(self._scanned(stream, params))

    def _scan_lists(self, targets: set[tuple[str, int]]) -> dict[str, dict[int, dict]]:
        """Every list of the account, keeping only what `find` looks at: the team's records, and targets
        changed in Pipedrive since they landed (the rest of a whole clinic is dropped as it is read)."""
        kept: dict[str, dict[int, dict]] = {}
        for stream in ENTITY_STREAMS:
            kept[stream] = {}
            for item in self._scanned(stream):
                key = (stream, int(item["id"]))
                if key not in self.ours or (key in targets and self._changed_since_landing(key, item)):
                    kept[stream][key[1]] = item
        return kept

    def _scanned(self, stream: str, params: dict | None = None) -> Iterator[dict]:
        """A list's records changed since the migration began (all files: that list has no such filter), a
        page at a time; deals include the archived ones, which GET /deals leaves out."""
        params = dict(params or {})
        if self.since and stream != "files":
            params["updated_since"] = self.since
        version = "v1" if stream in V1_STREAMS else "v2"
        for path in [f"/{stream}", "/deals/archived"] if stream == "deals" else [f"/{stream}"]:
            before = (self.client.stats.calls, self.client.stats.tokens)
            try:
                yield from self.client.iter_items(path, version=version, params=params)
            finally:
                self.calls += self.client.stats.calls - before[0]
                self.tokens += self.client.stats.tokens - before[1]

    def _narrow_lists(self, targets: set[tuple[str, int]]) -> dict[str, dict[int, dict]]:
        """The records hanging on each target, by the lists' parent filters, and the targets themselves."""
        found: dict[str, dict[int, dict]] = defaultdict(dict)
        for stream, ident in sorted(targets):
            for child, key in CHILD_LISTS.get(stream, ()):
                found[child].update({int(i["id"]): i for i in self._listed(child, {key: ident})})
            if stream in CHILD_LISTS:
                files = self._read(lambda s=stream, i=ident: self.client.list_all(f"/{s}/{i}/files", version="v1"))
                found["files"].update({int(i["id"]): i for i in files})
        for stream in ("organizations", "persons", "deals", "activities"):
            ids = [i for s, i in targets if s == stream]
            if ids:
                found[stream].update(self._read(lambda s=stream, i=ids: read_by_ids(self.client, s, i)))
        for stream, ident in sorted(t for t in targets if t[0] in V1_STREAMS):
            try:
                item = self._read(lambda s=stream, i=ident: self.client.get(f"/{s}/{i}", version="v1"))
            except PipedriveError:
                continue  # gone: nothing of the team's on it
            found[stream][ident] = item.get("data") or {}
        return found

    def _narrow_calls(self, targets: set[tuple[str, int]]) -> int:
        calls = 0
        for stream, _ in targets:
            calls += len(CHILD_LISTS.get(stream, ())) + (stream in CHILD_LISTS) + (stream in V1_STREAMS)
        return calls + sum(1 for s in ("organizations", "persons", "deals", "activities") if any(t == s for t, _ in targets))

    # ---- finding ----------------------------------------------------------------------------------

    def find(self, deleting: set[tuple[str, int]], restoring: set[tuple[str, int]] = frozenset(),
             fields: set[str] | None = None, schema: set[tuple[str, int]] = frozenset()) -> list[Finding]:
        """Team work on the records about to be deleted (`deleting`, with `schema`: pipelines and stages the
        migration created) or restored (`restoring`: adopted records), and in the custom fields about to be
        deleted (`fields`, default: none)."""
        targets = set(deleting) | set(restoring)
        if not targets and not fields and not schema:
            return []
        narrow = not fields and not schema and self._narrow_calls(targets) < self.scan_calls()
        lists = self._narrow_lists(targets) if narrow else self._scan_lists(targets)
        findings: list[Finding] = []
        for stream, items in lists.items():
            for ident, item in items.items():
                key = (stream, ident)
                row = self.row(key) if key in targets else None
                if row is not None:
                    changed = self._changed(stream, row, item, key in restoring)
                    if changed is not None:
                        findings.append(Finding("changed", stream, ident, [key], changed, item))
        # Added: hangs on a record being deleted, or on one of the team's records found so far (to a fixpoint).
        doomed = set(deleting) | set(schema)
        added: dict[tuple[str, int], Finding] = {}
        grew = True
        while grew:
            grew = False
            for stream, items in lists.items():
                for ident, item in items.items():
                    key = (stream, ident)
                    if key in self.ours or key in added:
                        continue
                    on = [p for p in parents_of(stream, item) if p in doomed or p in added]
                    if on:
                        added[key] = Finding("added", stream, ident, on, [], item)
                        grew = True
        findings.extend(added.values())
        for stream in ("organizations", "persons", "deals"):
            for ident, item in lists.get(stream, {}).items():
                if (stream, ident) in self.ours or (stream, ident) in added:
                    continue
                used = sorted(code for code, value in (item.get("custom_fields") or {}).items()
                              if code in (fields or ()) and not is_empty(value))
                if used:
                    findings.append(Finding("values", stream, ident, [], used, item))
        return findings

    def _changed(self, stream: str, row: dict, item: dict, adopted: bool) -> list[str] | None:
        if not changed_since_landing(row, item):
            return None
        differing = sorted({diff["field"] for diff in field_diffs(stream, row, item)})
        if adopted:
            return differing or None  # restoring touches only the fields we wrote
        return differing or [UNSENT_FIELDS]
