"""Preflight: what a load would do and cost, read-only. Report file + exit code."""

from __future__ import annotations

import json
import math
from collections import Counter, defaultdict
from pathlib import Path

from target_pipedrive.client import PipedriveClient, daily_budget
from target_pipedrive.contract import DEPENDENCY_ORDER
from target_pipedrive.costs import CREATE_CALLS
from target_pipedrive.ledger import Ledger
from target_pipedrive.owners import ConfigurationError, Owners
from target_pipedrive.phi_guard import PhiGuard
from target_pipedrive.plan_limits import check as check_plan
from target_pipedrive.plan_limits import custom_fields_in_use, open_deals_in_use
from target_pipedrive.report import write_private
from target_pipedrive.schema_setup import FIELD_ENDPOINTS, SchemaSetup
from target_pipedrive.settings import Settings, build_client

EXIT_OK, EXIT_BLOCKED = 0, 1


class Preflight:
    """Collects SCHEMA and RECORD messages, then asks Pipedrive (reads only) what the load needs."""

    def __init__(self, settings: Settings, client: PipedriveClient | None = None) -> None:
        self.settings = settings
        self.client = client or build_client(settings)
        self.schemas: dict[str, dict] = {}
        self.records: Counter = Counter()
        self.source_ids: dict[str, list[str]] = defaultdict(list)
        self.owner_rows: dict[tuple, dict] = {}
        self.transform_skipped = 0
        self.open_deal_ids: list[str] = []  # deals that would be open: they count against the plan
        # Records the input contract refuses (validation.py): the load would skip them, so they are not planned.
        self.contract_skipped: dict[str, dict] = {}

    def add_message(self, message: dict) -> None:
        kind, stream = message.get("type"), message.get("stream")
        if kind == "SCHEMA":
            self.schemas[stream] = message.get("schema") or {}
        elif kind == "RECORD" and stream == "skipped":
            self.transform_skipped += 1
        elif kind == "RECORD":
            record = message.get("record") or {}
            self.records[stream] += 1
            if stream == "deals" and (record.get("status") or "open") == "open":
                self.open_deal_ids.append(str(record.get("source_id")))
            self.source_ids[stream].append(str(record.get("source_id")))
            key = (record.get("owner_email"), record.get("owner_source_id"))
            row = self.owner_rows.setdefault(
                key,
                {"owner_email": key[0], "owner_name": record.get("owner_name"), "owner_source_id": key[1],
                 "records": 0},
            )
            row["records"] += 1

    def run(self) -> tuple[dict, int]:
        issues: list[str] = []
        users = self.client.get("/users", version="v1").get("data") or []
        me = self.client.get("/users/me", version="v1").get("data") or {}
        unmatched: list[dict] = []
        try:
            owners = Owners(users, self.settings.fallback_owner_email)
            unmatched = [
                {**row, "assigned_to": owners.fallback_email}
                for row in self.owner_rows.values()
                if owners.lookup(row["owner_email"]) is None
            ]
        except ConfigurationError as exc:
            issues.append(str(exc))

        setup = SchemaSetup(self.client, None, self.settings.run_id,
                            source_id_field_name=self.settings.source_id_field_name, plan_only=True)
        for stream in FIELD_ENDPOINTS:
            if stream in self.schemas:
                setup.ensure_stream_fields(stream, PhiGuard().schema(stream, self.schemas[stream]))
        pipelines = (self.schemas.get("deals") or {}).get("x-pipedrive-pipelines") or []
        if pipelines:
            setup.ensure_pipelines(pipelines)

        already = self._already_loaded()
        new_fields = sum(1 for item in setup.planned_objects if item.get("type") == "field")
        new_open = len(self.open_deal_ids) - self._loaded_count("deals", self.open_deal_ids)
        plan_limits, limit_issues = check_plan(
            self.settings.plan, self.settings.seats, custom_fields_in_use(self.client), new_fields,
            open_deals_in_use(self.client) if self.open_deal_ids else 0, new_open)
        issues.extend(limit_issues)
        plan_calls: dict[str, dict] = {}
        tokens = 0
        for stream in DEPENDENCY_ORDER:
            new = self.records[stream] - already.get(stream, 0)
            if not self.records[stream]:
                continue
            version, method, path = CREATE_CALLS[stream]
            cost = self.client.costs.cost(version, method, path)
            plan_calls[stream] = {
                "records": self.records[stream],
                "new": new,
                "already_loaded": already.get(stream, 0),
                "create_cost": cost,
                "tokens_new": new * cost,
                "tokens_if_all_loaded_changed": already.get(stream, 0) * cost,
                # e.g. files from attachments vs Patient Library assets (one upload per assigned person)
                "by_source_stream": {source: {"records": count, "tokens_if_all_new": count * cost}
                                     for source, count in sorted(Counter(
                                         sid.split(":", 1)[0] for sid in self.source_ids[stream]).items())},
            }
            tokens += new * cost
        schema_cost = self.client.costs.cost("v2", "POST", "/personFields")
        schema_tokens = len(setup.planned_objects) * schema_cost
        tokens += schema_tokens
        budget = daily_budget(self.settings.plan, self.settings.seats)
        admin = bool(me.get("is_admin")) or any(a.get("admin") for a in me.get("access") or [])
        if not admin:
            issues.append(
                "the token's user is not an admin: it may not see or delete every record the run creates"
                " (rollback and verify need both); use an admin user's token"
            )
        result = {
            "run_id": self.settings.run_id,
            "ok": not issues,
            "blocking_issues": issues,
            "records": dict(self.records),
            "transform_skipped": self.transform_skipped,
            "skipped_by_contract": self.contract_skipped,
            "unmatched_owners": sorted(unmatched, key=lambda r: (str(r["owner_email"]), str(r["owner_source_id"]))),
            "fields": [
                {k: row[k] for k in ("entity", "logical_name", "label", "key", "field_type", "status")}
                for row in setup.field_map_rows()
            ],
            "to_create": setup.planned_objects,
            "planned_calls": plan_calls,
            "plan_limits": plan_limits,
            "planned_write_calls": sum(p["new"] for p in plan_calls.values()) + len(setup.planned_objects),
            "planned_tokens": tokens,
            "daily_budget": budget,
            "daily_tokens_remaining": self.client.daily_remaining,
            "days_needed": max(math.ceil(tokens / budget), 1) if tokens else 0,
            "token_user": {"id": me.get("id"), "admin": admin, "can_see_and_delete_all": admin},
            "api_calls_used": self.client.stats.calls,
            "api_tokens_used": self.client.stats.tokens,
        }
        return result, (EXIT_OK if not issues else EXIT_BLOCKED)

    def _loaded_count(self, stream: str, source_ids: list[str]) -> int:
        ledger_path = self.settings.state_dir / "ledger.sqlite"
        if not source_ids or not ledger_path.exists():
            return 0
        ledger = Ledger(ledger_path)
        try:
            return sum(1 for sid in source_ids if ledger.pipedrive_id(stream, sid) is not None)
        finally:
            ledger.close()

    def _already_loaded(self) -> dict[str, int]:
        ledger_path = self.settings.state_dir / "ledger.sqlite"
        if not ledger_path.exists():
            return {}
        ledger = Ledger(ledger_path)
        try:
            return {
                stream: sum(1 for sid in sids if ledger.pipedrive_id(stream, sid) is not None)
                for stream, sids in self.source_ids.items()
            }
        finally:
            ledger.close()

    def write(self, result: dict) -> Path:
        state_dir = self.settings.state_dir
        state_dir.mkdir(parents=True, exist_ok=True)
        text = json.dumps(result, indent=2, sort_keys=True, default=str) + "\n"
        path = state_dir / f"preflight-{self.settings.run_id}.json"
        write_private(path, text)
        write_private(state_dir / "preflight.json", text)
        return path


def summary_text(result: dict, path: Path) -> str:
    lines = [f"preflight {'OK' if result['ok'] else 'BLOCKED'} — report: {path}"]
    lines += [f"  blocking: {issue}" for issue in result["blocking_issues"]]
    lines.append(f"  records: {result['records']}  unmatched owners: {len(result['unmatched_owners'])}")
    refused = result.get("skipped_by_contract") or {}
    if refused:
        counts = ", ".join(f"{stream} {row['records']}" for stream, row in sorted(refused.items()))
        lines.append(f"  skipped by the input contract (not planned; reasons in the report): {counts}")
    lines.append(f"  schema objects to create: {len(result['to_create'])}")
    limits = result.get("plan_limits") or {}
    for name in ("custom_fields", "open_deals"):
        if name in limits:
            row = limits[name]
            lines.append(f"  {name.replace('_', ' ')}: {row['in_use']} in use + {row['to_create']} to create = "
                         f"{row['after']} of {row['limit']} ({limits['plan']}, {limits['seats']} seat(s))")
    lines.append(
        f"  planned tokens: {result['planned_tokens']} of {result['daily_budget']} a day"
        f" → {result['days_needed']} day(s)"
    )
    return "\n".join(lines)
