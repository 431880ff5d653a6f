"""Rollback: undo what the manifest says a run did, in reverse dependency order; idempotent, resumable."""

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
from target_pipedrive.run_lock import RunLock
from target_pipedrive.schema_setup import FIELD_ENDPOINTS
from target_pipedrive.settings import Settings, build_client

ENTITY_ORDER = ["files", "notes", "activities", "deals", "persons", "organizations"]
V1_ENTITIES = {"files", "notes"}
GONE = {404, 410}
BULK_FIELD_DELETE_FROM = 3  # below this, single v2 deletes (3 tokens each) are cheaper than list + bulk


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
        for entry in entries:
            if entry["op"] == "create":
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

    def run(self, run_id: str | None, *, dry_run: bool = False) -> dict:
        steps = self.plan(run_id)
        done = {_step_key(p) for p in self.progress.entries()}
        todo = [s for s in steps if _step_key(s) not in done]
        if dry_run:
            return {"dry_run": True, "steps": len(steps), "already_done": len(steps) - len(todo), "plan": todo}
        started = time.monotonic()
        fields = [s for s in todo if s["type"] == "field"]
        # Steps of one kind are independent: run them concurrently (the client paces to the burst window),
        # kind after kind, so every deal is gone before its person, every person before its organization.
        others = [s for s in todo if s["type"] != "field"]
        with ThreadPoolExecutor(max_workers=self.settings.max_concurrency, thread_name_prefix="rollback") as pool:
            for _, group in groupby(others, key=lambda s: (s["action"], s["type"])):
                batch = list(group)
                if batch[0]["type"] == "field_options":
                    for step in batch:
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
                "restore_failures": self.restore_failures}

    def _apply(self, step: dict) -> None:
        kind, ident = step["type"], step["id"]
        try:
            if kind == "field_options":
                endpoint = FIELD_ENDPOINTS[step["entity"]]
                body = [{"id": option} for option in step["option_ids"]]
                self.client.request("DELETE", f"/{endpoint}/{ident}/options", json=body)
            elif step["action"] == "restore":
                self._restore(step)
                return
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


def run_rollback(settings: Settings, run_id: str | None, *, all_runs: bool, dry_run: bool) -> int:
    if not run_id and not all_runs:
        print("rollback needs --run RUN_ID or --all", file=sys.stderr)
        return 2
    lock = None if dry_run else RunLock(settings.state_dir, "rollback")  # never while a load is writing
    try:
        rollback = Rollback(settings)
        result = rollback.run(None if all_runs else run_id, dry_run=dry_run)
    finally:
        if lock is not None:
            lock.release()
    print(json.dumps({k: v for k, v in result.items() if k != "plan"}), file=sys.stderr)
    if dry_run:
        for step in result["plan"]:
            print(f"  would {step['action']} {step['type']} {step['id']}", file=sys.stderr)
    for failure in result.get("restore_failures") or []:
        print(f"could not restore {failure['type']} {failure['id']}: {failure['error']}", file=sys.stderr)
    return 1 if result.get("restore_failures") else 0
