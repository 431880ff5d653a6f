"""`target-pipedrive snapshot-account`: the shape of a Pipedrive account, read with GETs only.

Users, activity types, every field of every family with its options, pipelines with their stages, and
(for the streams `match_existing` adopts) the existing persons and organizations. The file is what
`pipedrive-sandbox --fixture FILE` starts a local twin from, for a dress rehearsal of the migration.
It holds user e-mails and contacts' personal data: it is written 0600.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path

from target_pipedrive.client import PipedriveClient, daily_budget
from target_pipedrive.report import write_private
from target_pipedrive.settings import Settings, build_client

FORMAT = 1
FIELD_FAMILIES = {"person": "personFields", "organization": "organizationFields", "deal": "dealFields",
                  "activity": "activityFields"}
RECORD_STREAMS = ("organizations", "persons")  # what the load adopts instead of creating (matching.MATCHERS)


class ReadOnlyClient:
    """The client's GETs, and nothing that could write: a snapshot never changes the account."""

    def __init__(self, client: PipedriveClient) -> None:
        self._client = client
        self.stats = client.stats

    def get(self, path: str, *, version: str = "v2") -> dict:
        return self._client.get(path, version=version)

    def list_all(self, path: str, *, version: str = "v2") -> list[dict]:
        return self._client.list_all(path, version=version)

    @property
    def daily_limit(self) -> int | None:
        return self._client.daily_limit

    def close(self) -> None:
        self._client.close()


def take_snapshot(client: ReadOnlyClient, source: str, record_streams: tuple[str, ...]) -> dict:
    me = client.get("/users/me", version="v1").get("data") or {}
    users = client.get("/users", version="v1").get("data") or []
    activity_types = client.get("/activityTypes", version="v1").get("data") or []
    fields = {family: client.list_all(f"/{endpoint}") for family, endpoint in FIELD_FAMILIES.items()}
    stages = client.list_all("/stages")
    pipelines = [
        {**pipeline, "stages": sorted((s for s in stages if s.get("pipeline_id") == pipeline["id"]),
                                      key=lambda s: (s.get("order_nr") or 0, s["id"]))}
        for pipeline in client.list_all("/pipelines")
    ]
    records = {stream: client.list_all(f"/{stream}") for stream in record_streams}
    return {
        "snapshot": {
            "format": FORMAT,
            "taken_at": dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat(),
            "source": source,
            "token_user_id": me.get("id"),
            "company_id": me.get("company_id"),
            "daily_token_limit": client.daily_limit,
            "records_included": list(record_streams),
            "api_calls": client.stats.calls,
            "api_tokens": client.stats.tokens,
        },
        "users": users,
        "activity_types": activity_types,
        "fields": fields,
        "pipelines": pipelines,
        **records,
    }


def run_snapshot(settings: Settings, out: Path, with_records: bool | None = None) -> int:
    """Write the snapshot to `out` and say what it holds and what it cost. 0 on success."""
    streams = tuple(s for s in RECORD_STREAMS if s in settings.match_existing) if with_records is None else (
        RECORD_STREAMS if with_records else ())
    client = ReadOnlyClient(build_client(settings))
    try:
        data = take_snapshot(client, settings.base_url, streams)
    finally:
        client.close()
    out.parent.mkdir(parents=True, exist_ok=True)
    write_private(out, json.dumps(data, indent=1, sort_keys=True) + "\n")
    print(summary_text(data, out, daily_budget(settings.plan, settings.seats)), file=sys.stderr)
    return 0


def summary_text(data: dict, out: Path, planned_budget: int) -> str:
    meta = data["snapshot"]
    custom = sum(1 for family in data["fields"].values() for f in family if f.get("is_custom_field"))
    stages = sum(len(p["stages"]) for p in data["pipelines"])
    records = ", ".join(f"{len(data[s])} {s}" for s in meta["records_included"]) or "no persons or organizations"
    lines = [
        f"snapshot of {meta['source']} written to {out}: {len(data['users'])} users, {custom} custom fields, "
        f"{len(data['pipelines'])} pipelines with {stages} stages, {records}",
        f"  read-only: {meta['api_calls']} GET calls, {meta['api_tokens']} tokens of the daily budget",
    ]
    limit = meta["daily_token_limit"]
    if limit and limit != planned_budget:
        lines.append(f"  the account's daily budget is {limit} tokens; PIPEDRIVE_PLAN and PIPEDRIVE_SEATS give "
                     f"{planned_budget}: set them to match, or the plan's days of budget will be off")
    return "\n".join(lines)
