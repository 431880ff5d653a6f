"""Value conversion: a contract record's values as Pipedrive's API takes them.

JSON-native values from the SDK's (`plain`), custom fields by their 40-character keys with option ids and
referenced record ids, pipeline and stage ids, the industry option, and where a date of birth goes. Every value
that cannot be written is reported by field name (`RunReport.ignored` / `unresolved` / `warn`), never dropped
silently and never with its value.
"""

from __future__ import annotations

import datetime as dt
import threading
from decimal import Decimal
from pathlib import Path
from typing import Any

from target_pipedrive.client import PipedriveClient
from target_pipedrive.contract import SkipRecord
from target_pipedrive.ledger import Ledger
from target_pipedrive.owners import Owners
from target_pipedrive.report import RunReport
from target_pipedrive.schema_setup import BIRTHDAY_SYSTEM_KEY, FieldInfo, SchemaSetup

# Custom field types that refer to another entity, and the stream they refer to.
REFERENCE_TYPES = {"org": "organizations", "people": "persons"}


def iso(value: Any) -> Any:
    """A date as YYYY-MM-DD, a date-time as ISO 8601 in UTC (`Z`); anything else as it is."""
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def plain(value: Any) -> Any:
    """JSON-native values: the SDK hands numbers over as Decimal and date-times as datetime."""
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() and "." not in str(value) else float(value)
    if isinstance(value, dt.date):
        return iso(value)
    return value


def without_empty(payload: dict) -> dict:
    """The payload without the keys that have no value (None, {}, [])."""
    return {k: v for k, v in payload.items() if v is not None and v != {} and v != []}


def references(schema: SchemaSetup, stream: str, record: dict) -> list[tuple[str, str]]:
    """(stream, source id) of each record an org/people custom field of `record` refers to by source id."""
    fields = schema.fields.get(stream) or {}
    found = []
    for logical, value in (record.get("custom_fields") or {}).items():
        info = fields.get(logical)
        if info is None or info.field_type not in REFERENCE_TYPES or not isinstance(value, dict):
            continue
        if value.get("source_id"):
            found.append((REFERENCE_TYPES[info.field_type], str(value["source_id"])))
    return found


class ValueConverter:
    """Converts one run's values; shared by every writer thread (the caches it fills are locked)."""

    def __init__(self, schema: SchemaSetup, ledger: Ledger, client: PipedriveClient, report: RunReport,
                 state_dir: Path, *, send_birthday: bool) -> None:
        self.schema = schema
        self.ledger = ledger
        self.client = client
        self.report = report
        self.state_dir = state_dir
        self.send_birthday = send_birthday
        self.owners: Owners | None = None  # set once the run has fetched the account's users
        self._lock = threading.Lock()
        self._org_industries: dict[str, Any] | None = None
        self._org_names: dict[str, int] | None = None

    # ---- custom fields --------------------------------------------------------------------------

    def custom_field_values(self, stream: str, record: dict) -> dict:
        """`custom_fields` (plus the source-ID field) by field key, each converted to its field's type."""
        fields = self.schema.fields.get(stream) or {}
        values = dict(record.get("custom_fields") or {})
        source_info = self.schema.source_id_fields.get(stream)
        if source_info is not None:
            values[source_info.logical_name] = str(record.get("source_id"))
        out: dict[str, Any] = {}
        for logical, value in values.items():
            info = fields.get(logical)
            if info is None or not info.key:
                if value is not None:
                    self.report.ignored(stream, f"custom_fields.{logical}")
                continue
            converted = self.convert(stream, info, value)
            if converted is not None:
                out[info.key] = converted
        return out

    def convert(self, stream: str, info: FieldInfo, value: Any) -> Any:
        if value is None:
            return None
        kind = info.field_type
        if kind in ("enum", "set"):
            labels = value if isinstance(value, list) else [value]
            ids = [self.option_id(stream, info, str(label)) for label in labels]
            if not ids:
                return None  # no option: unset (the spec refuses `[]` for a set field; null empties it)
            return ids[0] if kind == "enum" else ids
        if kind in ("double", "monetary"):
            return float(value) if not isinstance(value, int | float) else value
        if kind in REFERENCE_TYPES:
            return self._reference_id(stream, info, value)
        if kind == "user":
            user_id = self.owners.lookup(str(value)) if self.owners else None
            if user_id is None:
                self.report.ignored(stream, f"custom_fields.{info.logical_name}")
            return user_id
        if kind == "address" and isinstance(value, str):
            return {"value": value}
        if isinstance(value, list):  # a set field created as varchar (no options declared)
            return ", ".join(str(item) for item in value)
        if hasattr(value, "isoformat"):
            return value.isoformat()[:10] if kind == "date" else value.isoformat()
        return value if isinstance(value, dict) else str(value)

    def option_id(self, stream: str, info: FieldInfo, label: str) -> int | str:
        """An option's id; a label the field does not have yet is added to it (and to the field map)."""
        option, added = self.schema.option_id(stream, info, label)
        if added:
            self.schema.write_field_map(self.state_dir)
        return option

    def _reference_id(self, stream: str, info: FieldInfo, value: Any) -> int | None:
        """`{"source_id"}` through the ledger, `{"name"}` (organizations) through a cached name lookup."""
        parent_stream = REFERENCE_TYPES[info.field_type]
        key = f"custom_fields.{info.logical_name}"
        if isinstance(value, dict) and value.get("source_id"):
            found = self.ledger.pipedrive_id(parent_stream, str(value["source_id"]))
            if found is None:
                self.report.unresolved(stream, key, f"refers to a {parent_stream} record that was not loaded")
            return found
        name = value.get("name") if isinstance(value, dict) else value if isinstance(value, str) else None
        if name and parent_stream == "organizations":
            found = self._org_id_by_name(str(name))
            if found is None:
                self.report.unresolved(stream, key, "no organization with this name")
            return found
        self.report.unresolved(stream, key, "neither a source_id nor an organization name")
        return None

    def _org_id_by_name(self, name: str) -> int | None:
        with self._lock:
            if self._org_names is None:
                self._org_names = {}
                for item in self.client.list_all("/organizations"):
                    if item.get("name"):
                        self._org_names.setdefault(str(item["name"]).strip().lower(), int(item["id"]))
            return self._org_names.get(name.strip().lower())

    def landed(self, stream: str, sent: dict, pipedrive_id: int) -> None:
        """A record was created: an organization is found by its name from now on."""
        if stream == "organizations" and sent.get("name"):
            with self._lock:
                if self._org_names is not None:
                    self._org_names.setdefault(str(sent["name"]).strip().lower(), pipedrive_id)

    # ---- built-in fields ------------------------------------------------------------------------

    def place_birthday(self, payload: dict, value: Any) -> None:
        """Date of birth → Contact Sync's `birthday`, else the custom "Date of birth" field (never dropped silently)."""
        text = str(value)[:10]
        try:
            dt.date.fromisoformat(text)
        except ValueError:
            self.report.warn("persons", "birthday", "invalid_value", "not a YYYY-MM-DD date: not written")
            return
        key = self.schema.birthday_key
        if self.send_birthday or key == BIRTHDAY_SYSTEM_KEY:
            payload["birthday"] = text
        elif key:
            payload.setdefault("custom_fields", {})[key] = text
        else:
            self.report.ignored("persons", "birthday", "no birthday or Date of birth field could be set up")

    def stage_ids(self, pipeline: str | None, stage: str | None) -> tuple[int | None, int | None]:
        if not pipeline and not stage:
            return None, None
        if pipeline and not stage:
            pipeline_id = self.schema.pipelines.get(pipeline)
            if pipeline_id is None:
                raise SkipRecord("unknown_pipeline", f"pipeline {pipeline!r} is not in x-pipedrive-pipelines")
            return pipeline_id, None
        candidates = [(p, s) for (p, s) in self.schema.stages if s == stage and (pipeline is None or p == pipeline)]
        if not candidates:
            raise SkipRecord("unknown_stage", f"stage {stage!r} of pipeline {pipeline!r} is not declared")
        key = candidates[0]
        return self.schema.pipelines[key[0]], self.schema.stages[key]

    def industry_option(self, label: str | None) -> int | None:
        if not label:
            return None
        with self._lock:
            if self._org_industries is None:
                self._org_industries = self.schema.industry_options()
        option = self._org_industries.get(label.lower())
        if option is None:
            self.report.ignored("organizations", "industry")
        return option
