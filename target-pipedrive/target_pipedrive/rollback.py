"""Rollback: undo what the manifest says a run did, in reverse dependency order; idempotent, resumable.

Before deleting anything it reads Pipedrive for the team's work on the migrated records (`team_work.py`:
notes, activities, deals, files and persons added on them, records changed since they landed, values in
the migration's custom fields). The dry run lists it; the real rollback refuses while there is any
(exit 4), unless told what to do with it: `--keep-team-work` leaves those records, and everything they
hang on, in place (listed); `--discard-team-work` deletes the team's records too, each written to the
manifest (as read) first. Undone as well: deals archived and records deleted by `on_source_delete`
(unarchived; created again unless their own creation is being rolled back too).
"""

from __future__ import annotations

import copy
import json
import sys
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from itertools import groupby

from target_pipedrive.adopted import merge_prior
from target_pipedrive.api_shapes import NO_EMPTY, empty_value, is_empty, kept
from target_pipedrive.client import PipedriveClient, PipedriveError
from target_pipedrive.ledger import JsonLines, Ledger, Manifest
from target_pipedrive.report import write_private
from target_pipedrive.run_lock import RunLock
from target_pipedrive.schema_setup import FIELD_ENDPOINTS
from target_pipedrive.settings import Settings, build_client
from target_pipedrive.team_work import Finding, TeamWork, parents_of

ENTITY_ORDER = ["files", "notes", "activities", "deals", "persons", "organizations"]
CREATE_ORDER = list(reversed(ENTITY_ORDER))  # records created again: parents first
V1_ENTITIES = {"files", "notes"}
GONE = {404, 410}
BULK_FIELD_DELETE_FROM = 3  # below this, single v2 deletes (3 tokens each) are cheaper than list + bulk
EXIT_TEAM_WORK = 4
TEAM_WORK_CHOICES = ("refuse", "keep", "discard")
# Keys through which a record created again points at others (their ids may have changed on the way).
POINTERS = {"org_id": "organizations", "person_id": "persons", "deal_id": "deals"}


class Rollback:
    def __init__(self, settings: Settings, client: PipedriveClient | None = None) -> None:
        self.settings = settings
        self.client = client or build_client(settings)
        state_dir = settings.state_dir
        self.manifest = Manifest(state_dir / "manifest.jsonl")
        self.progress = JsonLines(state_dir / "rollback_progress.jsonl")
        self.ledger = Ledger(state_dir / "ledger.sqlite")
        self.restore_failures: list[dict] = []  # adopted records whose prior values Pipedrive refused

    def plan(self, run_id: str | None) -> list[dict]:
        """The steps, in the order they run: entities, restores, stages, pipelines, fields."""
        entries = [e for e in self.manifest.entries() if run_id is None or e.get("run_id") == run_id]
        created: dict[str, dict[object, dict]] = defaultdict(dict)
        updates: dict[tuple, dict] = {}
        archived: dict[int, dict] = {}
        deleted: list[dict] = []
        for entry in entries:
            if entry["op"] == "archive":
                archived[entry["id"]] = entry
            elif entry["op"] == "delete":
                deleted.append(entry)
            elif entry["op"] == "create":
                ident = entry.get("id", entry.get("key"))
                created[entry["type"]].setdefault(ident, entry)
            elif entry["op"] == "update":
                # One restore per record: each key's earliest prior value (from before any write of ours), and
                # the latest entry's time, so a record adopted again after a finished rollback is restored again.
                merged = updates.setdefault((entry["type"], entry["id"]), {"prior": {}})
                merge_prior(merged["prior"], entry["prior"])
                merged["at"] = entry.get("at")
        steps: list[dict] = []
        for stream in ENTITY_ORDER:
            for ident in sorted(created.get(stream, {}), reverse=True):
                steps.append({"action": "delete", "type": stream, "id": ident})
        for (stream, ident), entry in updates.items():
            steps.append(
                {"action": "restore", "type": stream, "id": ident, "prior": entry["prior"], "at": entry.get("at")}
            )
        for ident, entry in archived.items():
            steps.append({"action": "unarchive", "type": "deals", "id": ident, "at": entry.get("at")})
        # A record `on_source_delete` deleted is created again, unless its creation is rolled back too.
        for stream in CREATE_ORDER:
            for entry in (e for e in deleted if e["type"] == stream and e["id"] not in created.get(stream, {})):
                steps.append({"action": "recreate", "type": stream, "id": entry["id"], "entry": entry,
                              "at": entry.get("at")})
        for kind in ("stage", "pipeline"):
            for ident in sorted(created.get(kind, {}), reverse=True):
                steps.append({"action": "delete", "type": kind, "id": ident})
        for entry in (e for e in entries if e["op"] == "create" and e["type"] == "field_options"):
            if entry["key"] not in created.get("field", {}):
                steps.append({"action": "delete", "type": "field_options", "id": entry["key"], "entity": entry["entity"],
                              "option_ids": entry.get("option_ids") or [], "at": entry.get("at")})
        for ident, entry in created.get("field", {}).items():
            steps.append({"action": "delete", "type": "field", "id": ident, "entity": entry["entity"]})
        return steps

    def run(self, run_id: str | None, *, dry_run: bool = False, team_work: str = "refuse") -> dict:
        steps = self.plan(run_id)
        done = {_step_key(p) for p in self.progress.entries()}
        todo = [s for s in steps if _step_key(s) not in done]
        finder = TeamWork(self.client, self.ledger, self.manifest.entries())
        findings = self._team_work(finder, todo)
        labels = finder.landed
        team = {"team_work": [f.as_dict() for f in findings], "team_work_lines": [f.describe(labels) for f in findings],
                "team_work_scan": {"calls": finder.calls, "tokens": finder.tokens}}
        self._write_team_work(team)
        if dry_run:
            return {"dry_run": True, "steps": len(steps), "already_done": len(steps) - len(todo), "plan": todo, **team}
        kept: list[dict] = []
        if findings and team_work == "refuse":
            return {"dry_run": False, "refused": True, "steps": len(steps), "applied": 0, **team}
        if findings and team_work == "keep":
            todo, kept = self._keep(todo, findings, finder)
        if findings and team_work == "discard":
            todo = self._discard(todo, findings)
        started = time.monotonic()
        fields = [s for s in todo if s["type"] == "field"]
        # Steps of one kind are independent: run them concurrently (the client paces to the burst window),
        # kind after kind, so every deal is gone before its person, every person before its organization.
        others = [s for s in todo if s["type"] != "field"]
        with ThreadPoolExecutor(max_workers=self.settings.max_concurrency, thread_name_prefix="rollback") as pool:
            for _, group in groupby(others, key=lambda s: (s["action"], s["type"])):
                batch = list(group)
                if batch[0]["type"] == "field_options" or batch[0]["action"] == "recreate":
                    for step in batch:  # options one call at a time; records created again after their parents
                        self._apply(step)
                    continue
                for future in [pool.submit(self._apply, step) for step in batch]:
                    future.result()
        self._delete_fields(fields)
        elapsed = time.monotonic() - started
        return {"dry_run": False, "steps": len(steps), "applied": len(todo), "api_calls": self.client.stats.calls,
                "elapsed_seconds": round(elapsed, 3),
                "calls_per_second": round(self.client.stats.calls / elapsed, 1) if elapsed else None,
                "peak_in_flight": self.client.pacer.peak_in_flight,
                "restore_failures": self.restore_failures, "kept": kept, **team}

    # ---- the team's work ------------------------------------------------------------------------

    def _team_work(self, finder: TeamWork, todo: list[dict]) -> list[Finding]:
        deleting = {(s["type"], int(s["id"])) for s in todo if s["action"] == "delete" and s["type"] in ENTITY_ORDER}
        restoring = {(s["type"], int(s["id"])) for s in todo if s["action"] == "restore"}
        schema = {(s["type"], int(s["id"])) for s in todo if s["action"] == "delete" and s["type"] in ("stage", "pipeline")}
        fields = {str(s["id"]) for s in todo if s["type"] == "field"}
        return finder.find(deleting, restoring, fields, schema)

    def _write_team_work(self, team: dict) -> None:
        """`rollback_team_work.json`: what the last rollback (or dry run) found; ids and field names, no values."""
        body = {"team_work": team["team_work"], "scan": team["team_work_scan"], "at": time.time()}
        write_private(self.settings.state_dir / "rollback_team_work.json", json.dumps(body, indent=2) + "\n")

    def _keep(self, todo: list[dict], findings: list[Finding], finder: TeamWork) -> tuple[list[dict], list[dict]]:
        """Leave in place each migrated record the team's work is on or in, what it hangs on, and the fields,
        pipelines and stages they use; the list of what stays."""
        keep: dict[tuple[str, int], str] = {}
        fields: set[str] = set()
        for finding in findings:
            if finding.kind == "changed":
                keep[(finding.type, finding.id)] = "changed in Pipedrive since it landed"
            elif finding.kind == "added":
                for parent in finding.on:
                    keep.setdefault(parent, f"the team's {finding.type} {finding.id} is on it")
            else:
                fields.update(finding.fields)
        queue = list(keep)
        while queue:  # what a kept record hangs on stays too: its deal, person, organization, pipeline, stage
            key = queue.pop()
            row = finder.row(key)
            for parent in parents_of(key[0], row["sent"]) if row else ():
                if parent not in keep:
                    keep[parent] = f"{key[0]} {key[1]} that stays hangs on it"
                    queue.append(parent)
            if row:
                fields.update((row["sent"].get("custom_fields") or {}).keys())
        left, kept = [], []
        for step in todo:
            key = (step["type"], int(step["id"])) if str(step["id"]).isdigit() else None
            if step["type"] in ("field", "field_options") and str(step["id"]) in fields:
                kept.append({"type": step["type"], "id": step["id"], "why": "holds values of records that stay"})
            elif key in keep and step["action"] in ("delete", "restore"):
                kept.append({"type": step["type"], "id": step["id"], "source_id": finder.label(key),
                             "why": keep[key]})
            else:
                left.append(step)
        return left, kept

    def _discard(self, todo: list[dict], findings: list[Finding]) -> list[dict]:
        """The team's records go too, each one just before the migrated records of its kind (children first)."""
        for finding in findings:  # evidence first: everything discarded, as read, is in the manifest
            if finding.kind != "added":
                self.manifest.append({"op": "discard", "kind": finding.kind, "type": finding.type, "id": finding.id,
                                      "run_id": "rollback", "fields": finding.fields, "record": finding.record})
        added = [f for f in findings if f.kind == "added"]
        out: list[dict] = []
        for stream in ENTITY_ORDER:
            out.extend({"action": "discard", "type": stream, "id": f.id, "finding": f} for f in added if f.type == stream)
            out.extend(s for s in todo if s["type"] == stream and s["action"] == "delete")
        return out + [s for s in todo if not (s["type"] in ENTITY_ORDER and s["action"] == "delete")]

    def _apply(self, step: dict) -> None:
        kind, ident = step["type"], step["id"]
        if step["action"] == "recreate":
            self._recreate(step)
            return
        if step["action"] == "discard":
            finding: Finding = step["finding"]
            self.manifest.append({"op": "discard", "kind": "added", "type": kind, "id": ident, "run_id": "rollback",
                                  "on": [list(p) for p in finding.on], "record": finding.record})
        try:
            if kind == "field_options":
                endpoint = FIELD_ENDPOINTS[step["entity"]]
                body = [{"id": option} for option in step["option_ids"]]
                self.client.request("DELETE", f"/{endpoint}/{ident}/options", json=body)
            elif step["action"] == "restore":
                self._restore(step)
                return
            elif step["action"] == "unarchive":
                self.client.request("PATCH", f"/deals/{ident}", json={"is_archived": False})
            elif kind in V1_ENTITIES:
                self.client.request("DELETE", f"/{kind}/{ident}", version="v1")
            else:
                route = {"stage": "stages", "pipeline": "pipelines"}.get(kind, kind)
                self.client.request("DELETE", f"/{route}/{ident}")
        except PipedriveError as exc:
            if exc.status not in GONE:
                raise
        if step["action"] == "delete" and kind in ENTITY_ORDER:
            self.ledger.forget(kind, int(ident))
        self._done(step)

    def _restore(self, step: dict) -> None:
        """PATCH back the prior values Pipedrive can take; a refusal is reported, not fatal, and retried next time."""
        kind, ident = step["type"], step["id"]
        prior = {k: v for k, v in step["prior"].items() if k != "id"}
        body = _restorable(kind, prior)
        try:
            if body:
                self.client.request("PATCH", f"/{kind}/{ident}", json=body)
        except PipedriveError as exc:
            if exc.status not in GONE:
                self.restore_failures.append({"type": kind, "id": ident, "error": f"HTTP {exc.status}: {exc.error}"})
                return
        if kind in ENTITY_ORDER:  # restored: a re-run must match it again and re-apply, not see it as unchanged
            self.ledger.forget(kind, int(ident))
        self._done(step)

    def _delete_fields(self, steps: list[dict]) -> None:
        by_entity: dict[str, list[dict]] = defaultdict(list)
        for step in steps:
            by_entity[step["entity"]].append(step)
        for entity, entity_steps in by_entity.items():
            endpoint = FIELD_ENDPOINTS[entity]
            if len(entity_steps) >= BULK_FIELD_DELETE_FROM:
                # v1 keeps a bulk delete for fields; it takes numeric ids, so map keys through a v1 list.
                listed = self.client.list_all(f"/{endpoint}", version="v1")
                ids = {item.get("key"): item.get("id") for item in listed}
                numeric = [str(ids[s["id"]]) for s in entity_steps if ids.get(s["id"]) is not None]
                if numeric:
                    self.client.request("DELETE", f"/{endpoint}", version="v1", params={"ids": ",".join(numeric)})
                for step in entity_steps:
                    self._done(step)
                continue
            for step in entity_steps:
                try:
                    self.client.request("DELETE", f"/{endpoint}/{step['id']}")
                except PipedriveError as exc:
                    if exc.status not in GONE:
                        raise
                self._done(step)

    def _done(self, step: dict) -> None:
        self.progress.append({k: step.get(k) for k in ("action", "type", "id", "at")})

    def _recreate(self, step: dict) -> None:
        """Create again a record `on_source_delete: delete` removed, pointing at its parents' current ids."""
        entry, stream = step["entry"], step["type"]
        moved = self._moved()
        body = copy.deepcopy(entry.get("sent") or {})
        for key, parent in POINTERS.items():
            if body.get(key) is not None:
                body[key] = moved.get((parent, int(body[key])), body[key])
        for participant in body.get("participants") or []:
            participant["person_id"] = moved.get(("persons", int(participant["person_id"])), participant["person_id"])
        try:
            if stream == "files":
                links = {k: str(body[k]) for k in ("deal_id", "person_id", "org_id") if body.get(k)}
                with open(entry["copy"], "rb") as handle:
                    files = {"file": (body.get("file_name") or "file", handle, "application/octet-stream")}
                    answer = self.client.request("POST", "/files", version="v1", files=files, data=links)
            elif stream == "notes":
                answer = self.client.request("POST", "/notes", version="v1", json=body)
            else:
                answer = self.client.request("POST", f"/{stream}", json=kept(stream, body)[0])
        except (PipedriveError, OSError) as exc:  # reported like a refused restore, tried again next time
            error = f"HTTP {exc.status}: {exc.error}" if isinstance(exc, PipedriveError) else type(exc).__name__
            self.restore_failures.append({"type": stream, "id": step["id"], "error": f"not created again ({error})"})
            return
        new_id = int(answer["data"]["id"])
        created_by = entry.get("created_by") or entry.get("run_id")
        self.manifest.append({"op": "create", "type": stream, "id": new_id, "run_id": created_by,
                              "recreated_from": entry["id"]})
        self.ledger.restored(stream, entry["source_id"], new_id, body, created_by, answer["data"].get("update_time"))
        self._done(step)

    def _moved(self) -> dict[tuple[str, int], int]:
        """Records created again so far (this rollback or an earlier, interrupted one): old id → new id."""
        return {(e["type"], int(e["recreated_from"])): int(e["id"]) for e in self.manifest.entries()
                if e.get("op") == "create" and e.get("recreated_from") is not None}


def _step_key(step: dict) -> tuple:
    return step["action"], step["type"], str(step["id"]), (
        step.get("at") if step["action"] != "delete" or step["type"] == "field_options" else None
    )


def _restorable(stream: str, prior: dict) -> dict:
    """Prior values (as Pipedrive returned them) in the shape the update accepts.

    A value that was empty is emptied the way the spec allows for its key (`api_shapes.EMPTY_VALUES`:
    null where nullable and for custom fields, `[]`, `""`, an empty address); a key with no empty value
    in the spec is left out (the load never writes such a key where it was empty: see `adopted.py`).
    Objects keep only the parts the spec defines; an id returned as `{"value": id}` is sent as the id.
    """
    out: dict = {}
    for key, value in prior.items():
        if key == "custom_fields":
            out[key] = {code: None if is_empty(v) else v for code, v in (value or {}).items()}
            continue
        if is_empty(value):
            empty = empty_value(stream, key)
            if empty is not NO_EMPTY:
                out[key] = copy.deepcopy(empty)
            continue
        if isinstance(value, dict) and key.endswith("_id") and "value" in value:
            value = value["value"]
        out[key] = value
    return kept(stream, out)[0]


def run_rollback(settings: Settings, run_id: str | None, *, all_runs: bool, dry_run: bool,
                 team_work: str = "refuse") -> int:
    if not run_id and not all_runs:
        print("rollback needs --run RUN_ID or --all", file=sys.stderr)
        return 2
    lock = None if dry_run else RunLock(settings.state_dir, "rollback")  # never while a load is writing
    try:
        rollback = Rollback(settings)
        result = rollback.run(None if all_runs else run_id, dry_run=dry_run, team_work=team_work)
    finally:
        if lock is not None:
            lock.release()
    lines = result.get("team_work_lines") or []
    shown = {k: v for k, v in result.items() if k not in ("plan", "team_work", "team_work_lines", "kept")}
    print(json.dumps(shown), file=sys.stderr)
    if dry_run:
        for step in result["plan"]:
            print(f"  would {step['action']} {step['type']} {step['id']}", file=sys.stderr)
    if lines:
        scan = result["team_work_scan"]
        verb = "found" if dry_run else {"refuse": "found", "keep": "left in place",
                                        "discard": "deleted too (in the manifest)"}[team_work]
        print(f"team work on migrated records ({len(lines)}, {verb}; read with {scan['calls']} calls,"
              f" {scan['tokens']} tokens):", file=sys.stderr)
        for line in lines:
            print(f"  {line}", file=sys.stderr)
    for row in result.get("kept") or []:
        print(f"  kept {row['type']} {row['id']}{' (' + row['source_id'] + ')' if row.get('source_id') else ''}:"
              f" {row['why']}", file=sys.stderr)
    if result.get("refused"):
        print(f"rollback refused: the team has work on migrated records in Pipedrive ({len(lines)} item(s), listed"
              " above and in rollback_team_work.json); nothing was deleted. Run it again with --keep-team-work (leave"
              " those records and what they hang on) or --discard-team-work (delete them too).", file=sys.stderr)
        return EXIT_TEAM_WORK
    for failure in result.get("restore_failures") or []:
        print(f"could not restore {failure['type']} {failure['id']}: {failure['error']}", file=sys.stderr)
    return 1 if result.get("restore_failures") else 0
