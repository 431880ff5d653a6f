"""Sandbox-only endpoints under /_sandbox/ (loopback only, no token): snapshot, log, counters, config."""

from __future__ import annotations

from typing import Any

from flask import Flask, request

from .account import Account
from .clock import now_v2
from .errors import bad_request, not_found, ok
from .fields import FIELD_FAMILIES, public_field
from .routing import json_body

SNAPSHOT_ENTITIES = ("organizations", "persons", "deals", "activities", "notes", "files", "pipelines", "stages")
EDITABLE = SNAPSHOT_ENTITIES + ("users",)


def snapshot(account: Account) -> dict[str, Any]:
    """Every live record of the account, ordered by id: what a rollback must restore exactly."""
    store = account.store
    data: dict[str, Any] = {entity: [_without_flags(r) for r in store.all(entity)] for entity in SNAPSHOT_ENTITIES}
    data["fields"] = {family: [{**public_field(f), "id": f["id"]} for f in store.all(table)]
                      for family, table in FIELD_FAMILIES.items()}
    data["users"] = [{k: v for k, v in u.items() if k not in ("last_login",)} for u in store.all("users")]
    data["activity_types"] = store.all("activityTypes")
    return data


def _without_flags(record: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in record.items() if k != "is_deleted"}


def register(app: Flask, account: Account) -> None:
    @app.get("/_sandbox/snapshot")
    def get_snapshot():
        return ok(snapshot(account))

    @app.get("/_sandbox/requests")
    def get_requests():
        with account.lock:
            entries = list(account.log)
        since = request.args.get("since", type=int) or 0
        return ok(entries[since:])

    @app.get("/_sandbox/counters")
    def get_counters():
        return ok(account.counters_view())

    @app.post("/_sandbox/counters/reset")
    def reset_counters():
        account.reset_counters()
        return ok(account.counters_view())

    @app.get("/_sandbox/config")
    def get_config():
        return ok({**account.settings.as_dict(), "pending_faults": account.faults.pending()})

    @app.patch("/_sandbox/config")
    def patch_config():
        body = json_body()
        if not isinstance(body, dict):
            raise bad_request("body must be a JSON object")
        script = body.pop("script_faults", None)
        clear = body.pop("clear_faults", False)
        try:
            account.settings.update(body)
            if clear:
                account.faults.clear()
            if script:
                account.faults.script(list(script))
        except (ValueError, TypeError) as exc:
            raise bad_request(str(exc)) from exc
        return ok({**account.settings.as_dict(), "pending_faults": account.faults.pending()})

    @app.post("/_sandbox/records/<entity>/<int:record_id>")
    def change_record(entity: str, record_id: int):
        """Change a stored record behind the client's back (keys merged as given; custom_fields merged)."""
        if entity not in EDITABLE:
            raise bad_request(f"entity must be one of {', '.join(EDITABLE)}")
        changes = json_body()
        if not isinstance(changes, dict):
            raise bad_request("body must be a JSON object")
        with account.store.lock:
            record = account.store.get(entity, record_id, include_deleted=True)
            if record is None:
                raise not_found(entity)
            if isinstance(changes.get("custom_fields"), dict):
                changes["custom_fields"] = {**record.get("custom_fields", {}), **changes["custom_fields"]}
            record.update(changes)
            if "update_time" not in changes:
                record["update_time"] = now_v2()
            account.store.save(entity, record)
        return ok(record)

    @app.get("/_sandbox/health")
    def health():
        return ok({"status": "ok", "specs_loaded": account.catalog.loaded})
