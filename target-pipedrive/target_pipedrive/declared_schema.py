"""Pipelines, stages and custom fields declared in the target's settings, for taps that cannot send them.

The transform describes what the records need in its SCHEMA messages (`x-pipedrive-pipelines` on deals,
`x-pipedrive-field` per custom field; `schema_setup.py` sets them up). A generic tap sends no such thing, so
the same declarations can come from the settings `pipelines` and `custom_fields`, or from a YAML
`schema_file` holding those two keys. They are merged into the stream's SCHEMA before the schema set-up
reads it: pipelines, stages and fields that exist in the account are found by name (a field declared by
name alone takes the account field's type and options); what does not exist is created as declared.

An option value the account's enum/set field does not have is handled by `unknown_options`: `skip_value`
(default: the value is not written), `keep_as_text` (written to a text field "<label> (text)" beside the
option field, created on first need) or `add_option` (added to the field's options). Every such value is a
`degraded` entry (reason `not_an_option`) and counted in the summary's warnings.
"""

from __future__ import annotations

import copy
import threading
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml
from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match

from target_pipedrive.owners import ConfigurationError
from target_pipedrive.schema_setup import FIELD_ENDPOINTS, OPTION_TYPES

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from target_pipedrive.client import PipedriveClient
    from target_pipedrive.loader import Loader
    from target_pipedrive.schema_setup import FieldInfo

# Pipedrive's field types (v2 `POST /personFields` etc., `field_type`).
FIELD_TYPES = ("varchar", "varchar_auto", "text", "double", "monetary", "date", "set", "enum", "user", "org",
               "people", "phone", "time", "timerange", "daterange", "address")
UNKNOWN_OPTIONS = ("skip_value", "keep_as_text", "add_option")
DEFAULT_UNKNOWN_OPTIONS = "skip_value"  # never changes the customer's fields unasked
ACTIONS = {"skip_value": "skipped", "keep_as_text": "kept_as_text", "add_option": "option_added"}
DETAILS = {"skip_value": "not among the field's options: not written (unknown_options: skip_value)",
           "keep_as_text": "not among the field's options: written to the text field beside it (unknown_options:"
                           " keep_as_text)",
           "add_option": "not among the field's options: added as an option (unknown_options: add_option)"}
ANY_VALUE = {"type": ["string", "number", "integer", "boolean", "array", "object", "null"]}

_OPTION = {"type": ["string", "number"]}
TAP_FIELD_SPEC = {  # `x-pipedrive-field` in a SCHEMA: everything needed to create the field
    "type": "object", "required": ["name", "field_type"],
    "properties": {"name": {"type": "string", "minLength": 1, "maxLength": 255}, "field_type": {"enum": list(FIELD_TYPES)},
                   "options": {"type": ["array", "null"], "items": _OPTION}, "phi": {"type": ["boolean", "null"]}},
}
DECLARED_FIELD_SPEC = {  # in the settings: a name alone finds the account's field
    **TAP_FIELD_SPEC, "required": ["name"], "additionalProperties": False,
}
PIPELINE_SPEC = {
    "type": "object", "required": ["name"],
    "properties": {"name": {"type": "string", "minLength": 1},
                   "stages": {"type": ["array", "null"], "items": {"anyOf": [
                       {"type": "string", "minLength": 1},
                       {"type": "object", "required": ["name"],
                        "properties": {"name": {"type": "string", "minLength": 1}, "order": {"type": "integer"}}}]}}},
}
DECLARATIONS = {
    "type": "object", "additionalProperties": False,
    "properties": {
        "pipelines": {"type": ["array", "null"], "items": PIPELINE_SPEC},
        "custom_fields": {"type": ["object", "null"], "propertyNames": {"enum": list(FIELD_ENDPOINTS)},
                          "additionalProperties": {"type": "object", "additionalProperties": DECLARED_FIELD_SPEC}},
    },
}


def spec_problem(spec: Any, schema: dict) -> str | None:
    """Why a field or pipeline declaration cannot be used (its keys and the allowed values), else None."""
    error = best_match(Draft202012Validator(schema).iter_errors(spec))
    if error is None:
        return None
    where = ".".join(str(p) for p in error.absolute_path) or "declaration"
    if error.validator == "enum":
        return f"{where} is not one of {', '.join(str(v) for v in error.validator_value)}"
    if error.validator == "required":
        return f"{where} needs {', '.join(error.validator_value)}"
    return f"{where}: {error.validator} {error.validator_value}"


class Account:
    """The account's fields and pipelines, read once (GETs only) for declarations that name them."""

    def __init__(self, client: PipedriveClient) -> None:
        self.client = client
        self._fields: dict[str, list[dict]] = {}
        self._pipelines: list[dict] | None = None

    def field_named(self, stream: str, name: str) -> dict | None:
        endpoint = FIELD_ENDPOINTS[stream]
        if endpoint not in self._fields:
            self._fields[endpoint] = self.client.list_all(f"/{endpoint}")
        return next((f for f in self._fields[endpoint] if f.get("field_name") == name), None)

    def pipelines(self) -> list[dict]:
        if self._pipelines is None:
            stages = self.client.list_all("/stages")
            self._pipelines = [
                {"name": p["name"], "stages": [{"name": s["name"], "order": s.get("order_nr") or 0}
                                               for s in stages if s.get("pipeline_id") == p["id"]]}
                for p in self.client.list_all("/pipelines")]
        return self._pipelines


@dataclass
class DeclaredSchema:
    pipelines: list[dict] = field(default_factory=list)
    custom_fields: dict[str, dict[str, dict]] = field(default_factory=dict)
    unknown_options: str = DEFAULT_UNKNOWN_OPTIONS
    counts: Counter = field(default_factory=Counter)  # (stream, property, action) → values
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @classmethod
    def from_config(cls, config: Mapping) -> DeclaredSchema:
        """From `schema_file` (YAML) and the `pipelines` / `custom_fields` settings (which win, by name)."""
        declared: dict[str, Any] = {}
        if config.get("schema_file"):
            declared = _read_schema_file(Path(str(config["schema_file"])))
        settings = {key: config[key] for key in ("pipelines", "custom_fields") if config.get(key) is not None}
        problem = spec_problem(settings, DECLARATIONS)
        if problem:
            raise ConfigurationError(f"pipelines / custom_fields settings: {problem}")
        pipelines = _by_name(declared.get("pipelines") or []) | _by_name(config.get("pipelines") or [])
        fields: dict[str, dict] = {}
        for source in (declared.get("custom_fields") or {}, config.get("custom_fields") or {}):
            for stream, specs in (source or {}).items():
                fields.setdefault(stream, {}).update(specs or {})
        checked = {"pipelines": list(pipelines.values()), "custom_fields": fields}
        policy = str(config.get("unknown_options") or DEFAULT_UNKNOWN_OPTIONS)
        if policy not in UNKNOWN_OPTIONS:
            raise ConfigurationError(f"unknown_options must be one of {', '.join(UNKNOWN_OPTIONS)}")
        return cls([_pipeline(p) for p in checked["pipelines"]], fields, policy)

    # ---- the SCHEMA, before the schema set-up reads it ---------------------------------------------------

    def merge(self, stream: str, schema: dict, account: Callable[[], Account]) -> tuple[dict, list[tuple[str, str]]]:
        """The SCHEMA with the declarations merged in, and the (logical name, why) of declarations refused."""
        refused: list[tuple[str, str]] = []
        if stream not in FIELD_ENDPOINTS:
            return schema, refused
        schema = copy.deepcopy(schema)
        props = schema.setdefault("properties", {})
        custom = props.get("custom_fields") if isinstance(props.get("custom_fields"), dict) else None
        if custom is None:
            custom = props["custom_fields"] = {"type": ["object", "null"]}
        if not isinstance(custom.get("properties"), dict):
            custom["properties"] = {}
        for logical, prop in list(custom["properties"].items()):
            spec = prop.get("x-pipedrive-field") if isinstance(prop, dict) else None
            why = spec_problem(spec, TAP_FIELD_SPEC) if spec is not None else None
            if why:
                prop.pop("x-pipedrive-field")
                refused.append((logical, f"x-pipedrive-field {why}"))
        for logical, spec in self.custom_fields.get(stream, {}).items():
            custom["properties"][logical] = {**ANY_VALUE, "x-pipedrive-field": self._completed(stream, logical, spec,
                                                                                               account)}
        if stream == "deals":
            sent = schema.get("x-pipedrive-pipelines")
            usable = []
            for pipeline in sent if isinstance(sent, list) else []:
                why = spec_problem(pipeline, PIPELINE_SPEC)
                if why:
                    refused.append(("x-pipedrive-pipelines", why))
                else:
                    usable.append(_pipeline(pipeline))
            # A tap that declares no pipelines names the account's own: found by name (no write).
            found = account().pipelines() if not usable or self.pipelines else []
            merged = _merge_pipelines([*usable, *self.pipelines, *found])
            if merged:
                schema["x-pipedrive-pipelines"] = merged
        return schema, refused

    @staticmethod
    def _completed(stream: str, logical: str, spec: dict, account: Callable[[], Account]) -> dict:
        spec = {"phi": False, **spec}
        wanted_type = spec.get("field_type")
        if wanted_type and (wanted_type not in OPTION_TYPES or spec.get("options")):
            return spec  # all it needs to be found or created
        existing = account().field_named(stream, spec["name"])
        if not wanted_type:
            if existing is None:
                raise ConfigurationError(
                    f"custom_fields.{stream}.{logical}: the account has no {stream} field named {spec['name']!r};"
                    " add field_type (and options) to create it")
            spec["field_type"] = existing["field_type"]
        if (spec["field_type"] in OPTION_TYPES and not spec.get("options") and existing is not None
                and existing.get("field_type") == spec["field_type"]):
            spec["options"] = [o["label"] for o in existing.get("options") or []]
        return spec

    # ---- option values the field does not have ---------------------------------------------------------

    def apply_option_policy(self, stream: str, record: dict, loader: Loader) -> dict:
        values = record.get("custom_fields")
        if not isinstance(values, dict) or not values:
            return record
        fields = loader.schema.fields.get(stream) or {}
        changed: dict | None = None
        for logical, value in values.items():
            info = fields.get(logical)
            if info is None or info.field_type not in OPTION_TYPES or value in (None, [], ""):
                continue
            labels = [str(v) for v in (value if isinstance(value, list) else [value])]
            unknown = [label for label in labels if label not in info.options]
            if not unknown:
                continue
            self._report(loader, stream, record, logical)
            if self.unknown_options == "add_option":
                continue  # the loader adds the option when it writes the record
            changed = changed if changed is not None else dict(values)
            known = [label for label in labels if label in info.options]
            changed[logical] = (known or None) if info.field_type == "set" else None
            if self.unknown_options == "keep_as_text":
                changed[self._text_field(loader, stream, info)] = ", ".join(unknown)
        return record if changed is None else {**record, "custom_fields": changed}

    def _report(self, loader: Loader, stream: str, record: dict, logical: str) -> None:
        key = f"custom_fields.{logical}"
        loader.record_degradations([{"source_stream": stream, "source_id": record.get("source_id"), "field": key,
                                     "reason": "not_an_option", "action": ACTIONS[self.unknown_options]}])
        loader.report.warn(stream, key, "not_an_option", DETAILS[self.unknown_options])
        with self._lock:
            self.counts[(stream, key, ACTIONS[self.unknown_options])] += 1

    def _text_field(self, loader: Loader, stream: str, info: FieldInfo) -> str:
        """The varchar field beside an option field that holds values it has no option for (reused by name)."""
        logical = f"{info.logical_name}__text"
        with self._lock:
            if logical not in (loader.schema.fields.get(stream) or {}):
                spec = {"name": f"{info.label} (text)"[:255], "field_type": "varchar", "phi": info.phi}
                loader.schema.ensure_field(stream, logical, spec)
                loader.schema.write_field_map(loader.state_dir)
        return logical

    def option_lines(self) -> list[str]:
        with self._lock:
            return [f"target-pipedrive: {count} {stream} value(s) of {key} not among the field's options: {action}"
                    f" (unknown_options: {self.unknown_options})"
                    for (stream, key, action), count in sorted(self.counts.items())]


def _read_schema_file(path: Path) -> dict:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigurationError(f"schema_file {path}: cannot be read ({exc.strerror})") from exc
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        raise ConfigurationError(f"schema_file {path}: not valid YAML{where}") from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigurationError(f"schema_file {path}: expected a mapping with pipelines and custom_fields")
    problem = spec_problem(data, DECLARATIONS)
    if problem:
        raise ConfigurationError(f"schema_file {path}: {problem}")
    return data


def _by_name(pipelines: list) -> dict[str, Any]:
    return {str(p.get("name")) if isinstance(p, dict) else repr(p): p for p in pipelines}


def _pipeline(pipeline: dict) -> dict:
    stages = [s if isinstance(s, dict) else {"name": s} for s in pipeline.get("stages") or []]
    return {"name": pipeline["name"],
            "stages": [{"name": s["name"], "order": s.get("order") or i} for i, s in enumerate(stages, start=1)]}


def _merge_pipelines(pipelines: list[dict]) -> list[dict]:
    """One entry per pipeline name, stages in first-seen order, each stage once."""
    merged: dict[str, dict] = {}
    for pipeline in pipelines:
        into = merged.setdefault(pipeline["name"], {"name": pipeline["name"], "stages": []})
        names = {s["name"] for s in into["stages"]}
        for stage in pipeline.get("stages") or []:
            if stage["name"] not in names:
                into["stages"].append({"name": stage["name"], "order": len(into["stages"]) + 1})
                names.add(stage["name"])
    return list(merged.values())
