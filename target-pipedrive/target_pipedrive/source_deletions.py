"""Records deleted in PracticeHub after they landed: what they have in Pipedrive, and `on_source_delete`.

A record is deleted at the source in one of two ways:
- marked deleted (a patient's `deleted` flag): the mapper skips it with reason `deleted_in_source`, and the
  delta that reads it notices it here (`how: marked_deleted`);
- gone from the API: only a full re-read finds it, the reconcile pass (`meltano run reconcile`), which writes
  it to `source_deletions.jsonl` (`how: gone_from_api`); the next load applies the policy to it.

Each is listed with what it has in Pipedrive: the entities made from it and the migrated records hanging
on them (a patient's person, with its deals, activities, notes and files). The policy, applied at the end
of a load:
- `report` (default): listed in the run summary and `source_deletions.jsonl`; nothing changes in Pipedrive.
  A later load with `archive` or `delete` applies that policy to the records only reported so far.
- `archive`: its deals are archived (`is_archived`, v2). Pipedrive's API has no archived state for persons,
  organizations, activities, notes or files: those stay as they are, listed.
- `delete`: what the migration created from it is deleted, children first, unless the team has work on
  any of it in Pipedrive (`team_work.py`: then nothing is deleted and it is listed as `kept`). A record that
  was in the account before the migration (adopted) is never deleted.
Archive and delete are written to the manifest before the call, so rollback undoes them (unarchive;
create again, a file from the copy downloaded before it was deleted). A record that comes back in
PracticeHub (un-deleted) lands again: a deleted one is created again, an archived deal stays archived.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from collections import defaultdict
from pathlib import Path

from target_pipedrive.client import PipedriveClient, PipedriveError
from target_pipedrive.ledger import PRIVATE, JsonLines, Ledger, Manifest
from target_pipedrive.team_work import ENTITY_STREAMS, TeamWork, parents_of
from target_pipedrive.verify import read_by_ids

LOGGER = logging.getLogger("target_pipedrive")
FILE_NAME = "source_deletions.jsonl"
POLICIES = ("report", "archive", "delete")
DELETE_ORDER = ("files", "notes", "activities", "deals", "persons", "organizations")
GONE = {404, 410}
NO_ARCHIVE = ("Pipedrive's API has no archived state for persons, organizations, activities, notes or files:"
              " they stay as they are")
PENDING = ("noticed", "reported")


def source_record_of(source_id: str) -> str:
    """The PracticeHub record an entity comes from: `patients:7#as-entered` and `…#part-2` belong to `patients:7`."""
    return source_id.split("#", 1)[0]


def latest(path: Path) -> dict[str, dict]:
    """The last entry of each source record in the deletions file."""
    if not path.exists():
        return {}
    return {entry["source_id"]: entry for entry in JsonLines(path).entries() if entry.get("source_id")}


class LandedIndex:
    """The ledger's landed entities by source record, and the migrated records hanging on each.

    It keeps each entity's key, source id, origin and run id, not what was sent (read back from the ledger
    for the few that get deleted): the index of a clinic's 50,000 entities is a few MB, their payloads ~150.
    """

    def __init__(self, ledger: Ledger) -> None:
        self._about: dict[tuple[str, int], tuple[str, str, str]] = {}  # key → (source id, origin, run id)
        self.by_record: dict[str, list[tuple[str, int]]] = defaultdict(list)
        self.children: dict[tuple[str, int], list[tuple[str, int]]] = defaultdict(list)
        for stream, source_id, pipedrive_id, origin, run_id, sent in ledger.landed_links(ENTITY_STREAMS):
            key = (stream, int(pipedrive_id))
            self._about[key] = (source_id, sys.intern(origin), sys.intern(run_id))
            self.by_record[source_record_of(source_id)].append(key)
            for parent in parents_of(stream, sent):
                self.children[parent].append(key)

    def of(self, record_id: str) -> list[dict]:
        """Entities made from `record_id`, then what hangs on them, each once."""
        found: dict[tuple[str, int], dict] = {}
        queue = list(self.by_record.get(record_id, []))
        while queue:
            key = queue.pop(0)
            if key in found:
                continue
            source_id, origin, run_id = self._about[key]
            found[key] = {"type": key[0], "id": key[1], "source_id": source_id, "origin": origin, "run_id": run_id}
            queue.extend(self.children.get(key, []))
        return list(found.values())


def summary_of(entities: list[dict]) -> dict[str, list[int]]:
    out: dict[str, list[int]] = defaultdict(list)
    for entity in entities:
        out[entity["type"]].append(entity["id"])
    return {stream: sorted(ids) for stream, ids in sorted(out.items())}


class SourceDeletions:
    def __init__(self, ledger: Ledger, client: PipedriveClient, manifest: Manifest, run_id: str, state_dir: Path,
                 policy: str = "report") -> None:
        self.ledger = ledger
        self.client = client
        self.manifest = manifest
        self.run_id = run_id
        self.state_dir = state_dir
        self.policy = policy
        self.log = JsonLines(state_dir / FILE_NAME)
        self.noticed: dict[str, str] = {}  # source record -> how, this run
        self.back: set[str] = set()  # source records that came back in PracticeHub this run
        self._pending: set[str] | None = None

    def notice(self, record_id: str, how: str = "marked_deleted") -> None:
        self.noticed.setdefault(source_record_of(str(record_id)), how)

    def seen_again(self, source_id: str) -> None:
        """A record of the input (not deleted, then): a deletion noticed earlier no longer applies."""
        if self._pending is None:
            self._pending = {sid for sid, entry in latest(self.log.path).items() if entry.get("action") in PENDING}
        record_id = source_record_of(source_id)
        if record_id in self._pending:
            self.back.add(record_id)

    # ---- the end of a load ------------------------------------------------------------------------

    def finish(self) -> list[dict]:
        """Apply the policy to this run's deletions and to those only noticed or reported so far; the rows listed."""
        earlier = latest(self.log.path)
        for record_id in sorted(self.back - set(self.noticed)):
            self._append({**earlier[record_id], "action": "restored_in_source",
                          "detail": "the record is back in PracticeHub: no longer deleted there"})
        todo = dict(self.noticed)
        for record_id, entry in earlier.items():
            if _due(entry, self.policy) and record_id not in todo and record_id not in self.back:
                todo[record_id] = entry.get("how") or "marked_deleted"
        # Most deletions a full run notices never landed (the mapper skipped them): no index for those.
        todo = {record_id: how for record_id, how in todo.items()
                if self.ledger.has_landed_from(ENTITY_STREAMS, record_id)}
        if not todo:
            return []
        index = LandedIndex(self.ledger)
        rows = []
        for record_id, how in sorted(todo.items()):
            entities = index.of(record_id)
            if not entities:
                continue  # never landed (or already removed): an ordinary skip
            row = {"source_id": record_id, "stream": record_id.split(":", 1)[0], "how": how,
                   "in_pipedrive": summary_of(entities), "policy": self.policy}
            if self.policy != "report":
                self._append({**row, "action": "noticed"})  # a run stopped half-way applies it next time
            row.update(self._apply(entities))
            self._append(row)
            rows.append(row)
            LOGGER.warning("%s deleted in PracticeHub (%s) after it landed: %s; %s", record_id, how,
                           row["in_pipedrive"], row["action"])
        return rows

    def _append(self, row: dict) -> None:
        self.log.append({**row, "run_id": self.run_id, "at": time.time()})

    def _apply(self, entities: list[dict]) -> dict:
        if self.policy == "archive":
            return self._archive(entities)
        if self.policy == "delete":
            return self._delete(entities)
        return {"action": "reported", "detail": "nothing changed in Pipedrive (on_source_delete: report)"}

    def _archive(self, entities: list[dict]) -> dict:
        deals = [e["id"] for e in entities if e["type"] == "deals"]
        current = read_by_ids(self.client, "deals", deals) if deals else {}
        archived = []
        for deal_id in deals:
            if deal_id not in current or current[deal_id].get("is_archived"):
                continue  # gone, or archived already (by the team): nothing of ours to undo
            self.manifest.append({"op": "archive", "type": "deals", "id": deal_id, "run_id": self.run_id})
            self.client.request("PATCH", f"/deals/{deal_id}", json={"is_archived": True})
            archived.append(deal_id)
        others = sorted({e["type"] for e in entities if e["type"] != "deals"})
        detail = f"{len(archived)} deal(s) archived" + (f"; {', '.join(others)}: {NO_ARCHIVE}" if others else "")
        return {"action": "archived" if archived else "reported", "archived": archived, "detail": detail}

    def _delete(self, entities: list[dict]) -> dict:
        adopted = [e for e in entities if e.get("origin") == "preexisting"]
        created = [e for e in entities if e.get("origin") != "preexisting"]
        if adopted:
            # An adopted record was the account's before the migration: never deleted, nor what hangs on it.
            return {"action": "kept", "detail": "it was in Pipedrive before the migration (adopted): not deleted",
                    "kept": summary_of(adopted)}
        findings = TeamWork(self.client, self.ledger, self.manifest.entries()).find(
            {(e["type"], e["id"]) for e in created})
        if findings:
            return {"action": "kept", "team_work": [f.as_dict() for f in findings],
                    "detail": f"the team has work on it in Pipedrive ({len(findings)} item(s)): nothing deleted;"
                              " see team_work, then delete it in Pipedrive yourself or leave it"}
        deleted = []
        for stream in DELETE_ORDER:
            for entity in (e for e in created if e["type"] == stream):
                self._delete_one(entity)
                deleted.append(entity)
        return {"action": "deleted", "deleted": summary_of(deleted),
                "detail": "deleted in Pipedrive (kept there 30 days: Settings > Restore data); rollback creates it again"}

    def _delete_one(self, entity: dict) -> None:
        stream, ident = entity["type"], entity["id"]
        landed = self.ledger.get(stream, entity["source_id"]) or {}
        entry = {"op": "delete", "type": stream, "id": ident, "run_id": self.run_id, "source_id": entity["source_id"],
                 "sent": json.loads(landed.get("sent") or "{}"), "created_by": entity.get("run_id")}
        if stream == "files":
            entry["copy"] = str(self._keep_copy(ident))
        self.manifest.append(entry)  # before the delete: rollback can always create it again
        try:
            self.client.request("DELETE", f"/{stream}/{ident}", version="v1" if stream in ("notes", "files") else "v2")
        except PipedriveError as exc:
            if exc.status not in GONE:
                raise
        self.ledger.mark_deleted(stream, entity["source_id"])

    def _keep_copy(self, file_id: int) -> Path:
        """The file's bytes, kept (owner-only: it may hold patient data) so that rollback can upload it again."""
        folder = self.state_dir / "deleted_files"
        folder.mkdir(mode=0o700, exist_ok=True)
        path = folder / str(file_id)
        content = self.client.request("GET", f"/files/{file_id}/download", version="v1", raw=True)["data"]
        fd = os.open(path, os.O_CREAT | os.O_TRUNC | os.O_WRONLY, PRIVATE)
        with os.fdopen(fd, "wb") as handle:
            handle.write(content)
        return path


def _due(entry: dict, policy: str) -> bool:
    """An earlier deletion this load handles: one only noticed (by reconcile), or only reported when the policy
    now says more."""
    return entry.get("action") == "noticed" or (entry.get("action") == "reported" and policy != "report")


def pending(state_dir: Path, policy: str) -> bool:
    """Deletions noticed earlier that a load must handle, even one that receives no record."""
    return any(_due(entry, policy) for entry in latest(state_dir / FILE_NAME).values())


def note_gone(state_dir: Path, run_id: str, record_ids: list[str]) -> int:
    """The reconcile pass: records gone from PracticeHub's API, for the next load's policy (new ones only)."""
    log = JsonLines(state_dir / FILE_NAME)
    known = latest(log.path)
    added = 0
    for record_id in record_ids:
        if record_id in known and known[record_id].get("action") not in ("restored_in_source",):
            continue
        log.append({"source_id": record_id, "stream": record_id.split(":", 1)[0], "how": "gone_from_api",
                    "action": "noticed", "detail": "absent from a full re-read of PracticeHub (reconcile)",
                    "run_id": run_id, "at": time.time()})
        added += 1
    return added
