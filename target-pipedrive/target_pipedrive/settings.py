"""The target's settings: JSON schema for the SDK, and a typed view the modules share."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from singer_sdk import typing as th

from target_pipedrive.client import BURST_LIMITS, PipedriveClient
from target_pipedrive.costs import CostTable

CONFIG_SCHEMA = th.PropertiesList(
    th.Property("api_token", th.StringType, required=True, secret=True, description="Pipedrive API token"),
    th.Property("company_domain", th.StringType, description="<company>.pipedrive.com"),
    th.Property("base_url", th.StringType, description="Overrides company_domain (e.g. a local sandbox)"),
    th.Property(
        "fallback_owner_email",
        th.StringType,
        description="Pipedrive user who owns records whose owner_email matches no user",
    ),
    th.Property("state_dir", th.StringType, default="./output/pipedrive",
                description="Ledger, manifest, skip file, field map and reports"),
    th.Property("run_id", th.StringType, description="Run identifier (default: UTC timestamp)"),
    th.Property("plan", th.StringType, default="lite", allowed_values=sorted(BURST_LIMITS),
                description="The account's Pipedrive plan: sets the burst rate limit and the daily token budget"),
    th.Property("seats", th.IntegerType, default=1,
                description="Paid seats on the account: the daily token budget grows with them"),
    th.Property("max_concurrency", th.IntegerType, default=16,
                description="Cap on parallel calls; below it, concurrency adapts to the burst window"),
    th.Property("currency", th.StringType, default="USD", description="Deal currency when a record has none"),
    th.Property("source_id_field_name", th.StringType, default="Source ID",
                description="Label of the source-ID custom field created where the stream declares none"),
    th.Property("match_existing", th.ArrayType(th.StringType), default=["persons", "organizations"],
                description="Streams whose records adopt pre-existing Pipedrive records (persons by e-mail,"
                            " organizations by name) instead of creating duplicates"),
    th.Property("send_birthday", th.BooleanType, default=False,
                description="Send date of birth to persons.birthday even where the account lists no such field"
                            " (default: detected from personFields, else a custom \"Date of birth\" field)"),
    th.Property("openapi_dir", th.StringType, description="Folder with v2.yaml/v1.yaml for token costs"),
    th.Property("request_timeout", th.NumberType, default=60, description="Seconds per call"),
    th.Property("dry_run", th.BooleanType, default=False, description="Plan only: same as `preflight`"),
    th.Property("accept_preflight_issues", th.BooleanType, default=False,
                description="Load although the last preflight found blocking issues (plan limits, owners): for "
                            "a user who has checked"),
    th.Property("rehearsal", th.BooleanType, default=False,
                description="Dress rehearsal on a local twin of the account (`meltano run rehearsal`): a fresh state"
                            " folder each time, no STATE, and at the end rehearsal.json: what the real run will"
                            " create, adopt, update and skip, and its days of budget"),
    th.Property("on_conflict", th.StringType, default="report", allowed_values=["report", "source_wins", "pipedrive_wins"],
                description="A field changed both in PracticeHub and by the team in Pipedrive since it landed: keep "
                            "Pipedrive's value and list the conflict (report), write the source's (source_wins), or "
                            "keep Pipedrive's as settled (pipedrive_wins)"),
    th.Property("on_source_delete", th.StringType, default="report", allowed_values=["report", "archive", "delete"],
                description="A record deleted in PracticeHub after it landed: list it (report), archive its deals "
                            "(archive), or delete what the migration created from it (delete); rollback undoes both"),
    th.Property("reconcile", th.BooleanType, default=False,
                description="Verify against the source: compare the records read (a fresh tap and mapper pass) "
                            "with what Pipedrive holds now; no writes, no STATE (`meltano run reconcile`)"),
    th.Property("pipelines", th.ArrayType(th.ObjectType(additional_properties=True)),
                description="Pipelines and stages deals may name, for taps that send no x-pipedrive-pipelines:"
                            " [{name, stages: [name, ...]}]; existing ones are found by name, others created"),
    th.Property("custom_fields", th.ObjectType(additional_properties=True),
                description="Custom fields for taps that send no x-pipedrive-field: {persons|organizations|deals:"
                            " {logical_name: {name, field_type, options, phi}}}; a name alone finds the account's"
                            " field; values come from custom_fields.<logical_name> or a top-level <logical_name>"),
    th.Property("schema_file", th.StringType,
                description="YAML file with `pipelines` and `custom_fields` (as the settings; the settings win)"),
    th.Property("unknown_options", th.StringType, default="skip_value",
                allowed_values=["skip_value", "keep_as_text", "add_option"],
                description="An enum/set value the field has no option for: not written (skip_value), written to a"
                            " text field beside it (keep_as_text) or added as an option (add_option); each reported"),
).to_dict()


@dataclass
class Settings:
    api_token: str
    base_url: str
    fallback_owner_email: str | None
    state_dir: Path
    run_id: str
    plan: str
    seats: int
    max_concurrency: int
    currency: str
    source_id_field_name: str
    match_existing: list[str]
    openapi_dir: str | None
    request_timeout: float
    dry_run: bool
    reconcile: bool
    accept_preflight_issues: bool
    send_birthday: bool = False
    rehearsal: bool = False
    on_conflict: str = "report"
    on_source_delete: str = "report"

    @classmethod
    def from_config(cls, config: Mapping) -> Settings:
        base_url = config.get("base_url")
        if not base_url:
            domain = config.get("company_domain")
            if not domain:
                raise ValueError("set company_domain (or base_url)")
            base_url = f"https://{domain}.pipedrive.com"
        return cls(
            api_token=config["api_token"],
            base_url=base_url.rstrip("/"),
            fallback_owner_email=config.get("fallback_owner_email"),
            state_dir=Path(config.get("state_dir") or "./output/pipedrive"),
            run_id=config.get("run_id") or dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ"),
            plan=str(config.get("plan") or "lite").lower(),
            seats=int(config.get("seats") or 1),
            max_concurrency=max(int(config.get("max_concurrency") or 16), 1),
            currency=config.get("currency") or "USD",
            source_id_field_name=config.get("source_id_field_name") or "Source ID",
            match_existing=list(config.get("match_existing") or []),
            openapi_dir=config.get("openapi_dir"),
            request_timeout=float(config.get("request_timeout") or 60.0),
            dry_run=bool(config.get("dry_run")),
            reconcile=bool(config.get("reconcile")),
            accept_preflight_issues=bool(config.get("accept_preflight_issues")),
            send_birthday=bool(config.get("send_birthday")),
            rehearsal=bool(config.get("rehearsal")),
            on_conflict=str(config.get("on_conflict") or "report"),
            on_source_delete=str(config.get("on_source_delete") or "report"),
        )


def build_client(settings: Settings) -> PipedriveClient:
    return PipedriveClient(
        settings.base_url,
        settings.api_token,
        plan=settings.plan,
        max_concurrency=settings.max_concurrency,
        costs=CostTable.from_openapi_dir(settings.openapi_dir),
        timeout=settings.request_timeout,
    )
