"""Custom fields, pipelines and stages the records need, created (or reused) before the first record.

The result is the field map (the mapping workbook): entity, logical name, label, 40-char key, type,
created|reused — written as JSON and CSV beside the ledger.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from target_pipedrive.client import AmbiguousWrite, PipedriveClient
from target_pipedrive.ledger import Manifest
from target_pipedrive.report import write_private

FIELD_ENDPOINTS = {"persons": "personFields", "organizations": "organizationFields", "deals": "dealFields"}
SOURCE_ID_LOGICAL = "practicehub_id"
DEFAULT_SOURCE_ID_LOGICAL = "source_id"
# Date of birth: Pipedrive's `birthday` exists only where Contact Sync created it; else a custom date field.
BIRTHDAY_SYSTEM_KEY = "birthday"
BIRTHDAY_LOGICAL = "birthday"
BIRTHDAY_FIELD = {"name": "Date of birth", "field_type": "date", "phi": True}
OPTION_TYPES = ("enum", "set")
LOGGER = logging.getLogger("target-pipedrive")


@dataclass
class FieldInfo:
    entity: str
    logical_name: str
    label: str
    key: str | None
    field_type: str
    status: str  # created | reused | planned
    options: dict[str, int | str] = field(default_factory=dict)
    phi: bool = False


def custom_field_specs(schema: dict) -> dict[str, dict]:
    """Logical name → `x-pipedrive-field` from a stream's SCHEMA message."""
    props = (schema.get("properties") or {}).get("custom_fields", {}).get("properties") or {}
    return {name: spec["x-pipedrive-field"] for name, spec in props.items() if "x-pipedrive-field" in spec}


class SchemaSetup:
    """Creates what is missing; with `plan_only` it only reports what it would create."""

    def __init__(
        self,
        client: PipedriveClient,
        manifest: Manifest | None,
        run_id: str,
        *,
        source_id_field_name: str = "Source ID",
        plan_only: bool = False,
    ) -> None:
        self.client = client
        self.manifest = manifest
        self.run_id = run_id
        self.source_id_field_name = source_id_field_name
        self.plan_only = plan_only
        self.fields: dict[str, dict[str, FieldInfo]] = {}
        self.source_id_fields: dict[str, FieldInfo] = {}
        # Where persons.birthday goes: the Contact Sync field ("birthday") or a custom date field's key.
        self.birthday_key: str | None = None
        self.pipelines: dict[str, int | None] = {}
        self.stages: dict[tuple[str, str], int | None] = {}
        self.planned_objects: list[dict] = []
        self._existing: dict[str, list[dict]] = {}
        self._lock = threading.Lock()

    # ---- custom fields --------------------------------------------------------------------------

    def ensure_stream_fields(self, stream: str, schema: dict) -> dict[str, FieldInfo]:
        """Create/reuse every custom field of `stream` plus its source-ID field."""
        endpoint = FIELD_ENDPOINTS.get(stream)
        if endpoint is None:
            return {}
        with self._lock:
            specs = custom_field_specs(schema)
            if SOURCE_ID_LOGICAL not in specs:
                specs[DEFAULT_SOURCE_ID_LOGICAL] = {"name": self.source_id_field_name, "field_type": "varchar"}
            mapped: dict[str, FieldInfo] = {}
            for logical, spec in specs.items():
                mapped[logical] = self._ensure_field(stream, endpoint, logical, spec)
            self.fields[stream] = mapped
            if stream == "persons" and BIRTHDAY_LOGICAL in (schema.get("properties") or {}):
                self._ensure_birthday(endpoint, mapped)
            source_logical = SOURCE_ID_LOGICAL if SOURCE_ID_LOGICAL in mapped else DEFAULT_SOURCE_ID_LOGICAL
            self.source_id_fields[stream] = mapped[source_logical]
            return mapped

    def ensure_field(self, stream: str, logical: str, spec: dict) -> FieldInfo:
        """Create/reuse one more custom field of `stream` after its SCHEMA (e.g. the text field beside an
        option field, declared_schema.py) and map it under `logical`."""
        with self._lock:
            info = self._ensure_field(stream, FIELD_ENDPOINTS[stream], logical, spec)
            self.fields.setdefault(stream, {})[logical] = info
            return info

    def _ensure_birthday(self, endpoint: str, mapped: dict[str, FieldInfo]) -> None:
        """Contact Sync's `birthday` where the account has it, else a (reused or new) "Date of birth" date field."""
        if any(item.get("field_code") == BIRTHDAY_SYSTEM_KEY for item in self._existing_fields(endpoint)):
            self.birthday_key = BIRTHDAY_SYSTEM_KEY
            return
        label, field_type = BIRTHDAY_FIELD["name"], BIRTHDAY_FIELD["field_type"]
        same = next((i for i in mapped.values() if i.label == label and i.field_type == field_type), None)
        info = same or self._ensure_field("persons", endpoint, BIRTHDAY_LOGICAL, BIRTHDAY_FIELD)
        if same is None:
            mapped[BIRTHDAY_LOGICAL] = info
        self.birthday_key = info.key

    def _existing_fields(self, endpoint: str) -> list[dict]:
        if endpoint not in self._existing:
            self._existing[endpoint] = self.client.list_all(f"/{endpoint}")
        return self._existing[endpoint]

    def _ensure_field(self, stream: str, endpoint: str, logical: str, spec: dict) -> FieldInfo:
        label, field_type = spec["name"], spec["field_type"]
        wanted_options = [str(option) for option in spec.get("options") or []]
        if field_type in OPTION_TYPES and not wanted_options:
            # Pipedrive refuses an enum/set field without options; values (if any) then land as text.
            LOGGER.warning("%s field %r declares no options: created as varchar instead of %s",
                           stream, label, field_type)
            field_type = "varchar"
        match = next(
            (
                item
                for item in self._existing_fields(endpoint)
                if item.get("field_name") == label and item.get("field_type") == field_type
            ),
            None,
        )
        info = FieldInfo(stream, logical, label, None, field_type, "planned", phi=bool(spec.get("phi")))
        if match is not None:
            info.key, info.status = match["field_code"], "reused"
            info.options = {o["label"]: o["id"] for o in match.get("options") or []}
            missing = [label for label in wanted_options if label not in info.options]
            if missing and not self.plan_only:
                info.options.update(self._add_options(stream, endpoint, info, missing))
            elif missing:
                self.planned_objects.append(
                    {"type": "field_options", "entity": stream, "label": label, "options": missing}
                )
            return info
        if self.plan_only:
            self.planned_objects.append({"type": "field", "entity": stream, "label": label, "field_type": field_type})
            return info
        body: dict = {"field_name": label, "field_type": field_type}
        if field_type in ("enum", "set") and wanted_options:
            body["options"] = [{"label": label} for label in wanted_options]
        data = self._create_checked(
            lambda: self.client.request("POST", f"/{endpoint}", json=body)["data"],
            lambda: next((item for item in self.client.list_all(f"/{endpoint}")
                          if item.get("field_name") == label and item.get("field_type") == field_type), None),
        )
        info.key, info.status = data["field_code"], "created"
        info.options = {o["label"]: o["id"] for o in data.get("options") or []}
        self._existing_fields(endpoint).append(data)
        self._record("field", stream, key=info.key, label=label)
        return info

    def _add_options(self, stream: str, endpoint: str, info: FieldInfo, labels: list[str]) -> dict:
        data = self.client.request(
            "POST", f"/{endpoint}/{info.key}/options", json=[{"label": label} for label in labels]
        )["data"]
        options = data.get("options") if isinstance(data, dict) else data
        if not options:
            options = self.client.get(f"/{endpoint}/{info.key}")["data"].get("options") or []
        added = {o["label"]: o["id"] for o in options if o.get("label") in labels}
        self._record("field_options", stream, key=info.key, option_ids=list(added.values()))
        return added

    def option_id(self, stream: str, info: FieldInfo, label: str) -> tuple[int | str, bool]:
        """The id of `label` among an enum/set field's options, adding the option when it is new.

        Returns (id, added); thread-safe, so writers converting values at once add a label only once."""
        if label in info.options:
            return info.options[label], False
        with self._lock:
            if label in info.options:
                return info.options[label], False
            info.options.update(self._add_options(stream, FIELD_ENDPOINTS[stream], info, [label]))
            return info.options[label], True

    def industry_options(self) -> dict[str, int]:
        """The organizations' built-in `industry` field: lower-case label → option id (read once)."""
        with self._lock:
            fields = self._existing_fields("organizationFields")
        industry = next((f for f in fields if f.get("field_code") == "industry"), None)
        return {str(o["label"]).lower(): o["id"] for o in (industry or {}).get("options") or []}

    # ---- pipelines and stages -------------------------------------------------------------------

    def ensure_pipelines(self, pipelines: list[dict]) -> None:
        """Reuse pipelines and stages by name; create what is missing, in the given stage order."""
        with self._lock:
            existing = {p["name"]: p["id"] for p in self.client.list_all("/pipelines")}
            for pipeline in pipelines:
                name = pipeline["name"]
                pipeline_id = existing.get(name)
                stages_by_name: dict[str, int] = {}
                if pipeline_id is None:
                    if self.plan_only:
                        self.planned_objects.append({"type": "pipeline", "name": name})
                    else:
                        pipeline_id = self._create_checked(
                            lambda name=name: self.client.request("POST", "/pipelines", json={"name": name})["data"]["id"],
                            lambda name=name: next((p["id"] for p in self.client.list_all("/pipelines")
                                                    if p["name"] == name), None),
                        )
                        self._record("pipeline", "deals", id=pipeline_id, label=name)
                if pipeline_id is not None:
                    stages = self.client.list_all("/stages", params={"pipeline_id": pipeline_id})
                    stages_by_name = {s["name"]: s["id"] for s in stages}
                self.pipelines[name] = pipeline_id
                for stage in sorted(pipeline.get("stages") or [], key=lambda s: s.get("order", 0)):
                    stage_id = stages_by_name.get(stage["name"])
                    if stage_id is None and self.plan_only:
                        self.planned_objects.append({"type": "stage", "pipeline": name, "name": stage["name"]})
                    elif stage_id is None:
                        body = {"name": stage["name"], "pipeline_id": pipeline_id}
                        stage_id = self._create_checked(
                            lambda body=body: self.client.request("POST", "/stages", json=body)["data"]["id"],
                            lambda body=body: next(
                                (s["id"] for s in self.client.list_all("/stages", params={"pipeline_id": body["pipeline_id"]})
                                 if s["name"] == body["name"]), None),
                        )
                        self._record("stage", "deals", id=stage_id, label=stage["name"])
                    self.stages[(name, stage["name"])] = stage_id

    def _create_checked(self, create: Callable[[], object], find: Callable[[], object | None]):
        """A create whose answer was lost is looked up (again after a stalled request could land) before a retry."""
        for _ in range(3):
            try:
                return create()
            except AmbiguousWrite as exc:
                LOGGER.warning("schema set-up: answer lost (%s); checking whether it landed", exc)
                for wait in (0.0, min(float(self.client.timeout or 0), 30.0)):
                    time.sleep(wait)
                    found = find()
                    if found is not None:
                        return found
        return create()

    def _record(self, kind: str, entity: str, **details: object) -> None:
        if self.manifest is not None:
            self.manifest.append({"op": "create", "type": kind, "entity": entity, "run_id": self.run_id, **details})

    # ---- the mapping workbook -------------------------------------------------------------------

    def field_map_rows(self) -> list[dict]:
        rows = []
        for stream in sorted(self.fields):
            for info in self.fields[stream].values():
                row = asdict(info)
                row["options"] = json.dumps(info.options, sort_keys=True)
                rows.append(row)
        return rows

    def write_field_map(self, state_dir: Path) -> None:
        rows = self.field_map_rows()
        write_private(state_dir / "field_map.json", json.dumps(rows, indent=2) + "\n")
        columns = ["entity", "logical_name", "label", "key", "field_type", "status", "options", "phi"]
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
        write_private(state_dir / "field_map.csv", buffer.getvalue())
