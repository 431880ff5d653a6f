"""The target's input contract: one JSON Schema per stream, checked before anything is written.

The schemas are `schemas/<stream>.json` (published in the README and in `--about`). The tap's own SCHEMA
is not the contract: the SDK's check against it stops the whole run at the first bad record and prints
the offending value, so the sinks replace it (`ContractCheckedSink`) with this one. A record that breaks
the contract is skipped — `skipped.jsonl` gets its stream, source id, property path and reason, never a
value — the load goes on, and stderr gets one line per problem class with its count.
"""

from __future__ import annotations

import functools
import json
import logging
import re
import sys
import threading
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jsonschema import Draft202012Validator

from target_pipedrive.declared_schema import FIELD_TYPES, Account, DeclaredSchema
from target_pipedrive.schema_setup import FIELD_ENDPOINTS
from target_pipedrive.settings import build_client

if TYPE_CHECKING:
    from jsonschema.exceptions import ValidationError

# The SDK's reader logs an input line it cannot parse in full, with its traceback: a record's values. The
# target says what is wrong in one line instead (target.run), so that logger (used for nothing else) is off.
logging.getLogger("singer_sdk.singerlib.encoding.simple").disabled = True

SCHEMA_DIR = Path(__file__).with_name("schemas")
CONTRACT_STREAMS = ("organizations", "persons", "deals", "activities", "notes", "files", "skipped", "degraded")
SKIP_REASON = "contract_violation"

# What a custom field's value must be, by its Pipedrive field type (loader.custom_field_values writes it).
_TEXT = {"type": ["string", "number", "boolean", "null"]}
_LABEL = {"type": ["string", "number", "null"]}
_REFERENCE = {
    "type": ["object", "string", "null"],
    "properties": {"source_id": {"type": ["string", "integer"]}, "name": {"type": "string"}},
    "additionalProperties": False,
}
VALUE_SCHEMAS: dict[str, dict] = {
    "double": {"type": ["number", "null"]},
    "monetary": {"type": ["number", "null"]},
    "date": {"type": ["string", "null"], "pattern": r"^\d{4}-\d{2}-\d{2}$", "description": "a date, YYYY-MM-DD"},
    "time": {"type": ["string", "null"], "pattern": r"^\d{1,2}:\d{2}(:\d{2})?$", "description": "HH:MM:SS"},
    "enum": _LABEL,
    "set": {"type": ["array", "string", "null"], "items": _LABEL},
    "org": _REFERENCE,
    "people": _REFERENCE,
    "user": {"type": ["string", "integer", "null"], "description": "a Pipedrive user's e-mail"},
    "address": {"type": ["string", "object", "null"]},
    "daterange": {"type": ["object", "string", "null"]},
    "timerange": {"type": ["object", "string", "null"]},
}
_NUMBER = re.compile(r"^-?\d+(\.\d+)?$")


@functools.cache
def stream_schema(stream: str) -> dict:
    """The contract of one stream, as published in `schemas/<stream>.json`."""
    return json.loads((SCHEMA_DIR / f"{stream}.json").read_text(encoding="utf-8"))


def contract() -> dict[str, dict]:
    return {stream: stream_schema(stream) for stream in CONTRACT_STREAMS}


# ---- checking one record ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Problem:
    """One way a record breaks the contract: where, the reason code, and what the contract expects (no value)."""

    path: str
    reason: str
    expected: str

    @property
    def problem_class(self) -> str:
        return re.sub(r"\[\d+\]", "[]", self.path)

    def as_row(self) -> dict:
        return {"property": self.path, "reason": self.reason, "expected": self.expected}


class StreamContract:
    """The stream's schema plus one value schema per custom field the SCHEMA (or the settings) declares."""

    def __init__(self, stream: str, sink_schema: dict | None = None, key_properties: list[str] | None = None) -> None:
        self.stream = stream
        schema = json.loads(json.dumps(stream_schema(stream)))
        custom = (((sink_schema or {}).get("properties") or {}).get("custom_fields") or {}).get("properties") or {}
        self.field_types = {name: spec["x-pipedrive-field"].get("field_type")
                            for name, spec in custom.items() if isinstance(spec.get("x-pipedrive-field"), dict)}
        if "custom_fields" in schema.get("properties", {}):
            schema["properties"]["custom_fields"]["properties"] = {
                name: VALUE_SCHEMAS.get(kind, _TEXT) for name, kind in self.field_types.items()}
        self.schema = schema
        self.key_properties = [k for k in key_properties or [] if k != "source_id"]
        self._validator = Draft202012Validator(schema)

    def problems(self, record: Any) -> list[Problem]:
        if not isinstance(record, dict):
            return [Problem("$", "wrong_type", f"expected object, got {_json_type(record)}")]
        found: list[Problem] = []
        for error in self._validator.iter_errors(record):
            found.extend(_problems(error))
        for key in self.key_properties:  # the tap's own key properties: the SDK would stop the run without them
            if record.get(key) is None:
                found.append(Problem(key, "missing_key_property", "a value (a key property of the tap's SCHEMA)"))
        return sorted(set(found), key=lambda p: (p.path, p.reason))

    def coerce(self, record: dict) -> dict:
        """Flat text taps (CSV-like): "" is null, and "12.5" / "true" are read as the number or boolean the
        contract wants. Anything else is left for the check to refuse."""
        if not isinstance(record, dict):
            return record
        props = self.schema.get("properties", {})
        out = {key: _coerced(value, props.get(key)) for key, value in record.items()}
        custom = out.get("custom_fields")
        if isinstance(custom, dict):
            custom_props = props.get("custom_fields", {}).get("properties", {})
            out["custom_fields"] = {k: _coerced(v, custom_props.get(k)) for k, v in custom.items()}
        return out


def _coerced(value: Any, schema: dict | None) -> Any:
    if not isinstance(value, str) or not schema:
        return value
    types = schema.get("type") or []
    types = [types] if isinstance(types, str) else types
    if value == "" and "null" in types and ("string" not in types or "pattern" in schema or "enum" in schema):
        return None
    if "string" in types:
        return value
    if ("number" in types or "integer" in types) and _NUMBER.match(value.strip()):
        number = float(value)
        return int(number) if "." not in value and ("integer" in types or number.is_integer()) else number
    if "boolean" in types and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    return value


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object" if isinstance(value, dict) else type(value).__name__


def _path(parts) -> str:
    text = ""
    for part in parts:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "$"


def _join(path: str, name: str) -> str:
    return name if path == "$" else f"{path}.{name}"


def _types(value: Any) -> str:
    names = value if isinstance(value, list) else [value]
    return " or ".join(str(n) for n in names)


def _problems(error: ValidationError) -> list[Problem]:
    """A jsonschema error as problems, worded from the contract alone: `error.message` quotes the value."""
    path, keyword, rule = _path(error.absolute_path), error.validator, error.validator_value
    schema = error.schema if isinstance(error.schema, dict) else {}
    if keyword == "required":
        missing = [n for n in rule if isinstance(error.instance, dict) and n not in error.instance]
        return [Problem(_join(path, n), "missing_property", "required by the contract") for n in missing]
    if keyword == "type":
        return [Problem(path, "wrong_type", f"expected {_types(rule)}, got {_json_type(error.instance)}")]
    if keyword == "enum":
        allowed = ", ".join(str(v) for v in rule if v is not None)
        return [Problem(path, "not_allowed", f"expected one of {allowed}")]
    if keyword in ("pattern", "format"):
        return [Problem(path, "invalid_format", f"expected {schema.get('description') or rule}")]
    if keyword == "minLength":
        return [Problem(path, "empty", "a non-empty string")]
    if keyword in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
        return [Problem(path, "out_of_range", f"{keyword} {rule}")]
    if keyword == "additionalProperties" and isinstance(error.instance, dict):
        known = set(schema.get("properties") or {})
        extra = sorted(str(k) for k in error.instance if k not in known)
        return [Problem(_join(path, k), "unexpected_property", f"one of {', '.join(sorted(known))}") for k in extra]
    return [Problem(path, "invalid", f"breaks the contract's {keyword!r} rule")]


# ---- the sinks' side ---------------------------------------------------------------------------------


class ContractCheckedSink:
    """Mixed into the target's sinks (first in the bases): the SDK's checks against the tap's SCHEMA are
    replaced by `ContractCheck.admit` in `process_record`. SDK 0.54 hooks: `get_validator` (public),
    `_validate_and_parse` and `_singer_validate_message` (singer_sdk.sinks.core.Sink)."""

    def get_validator(self) -> None:
        return None  # the tap's SCHEMA is not the contract, and the SDK's error quotes the value

    def _validate_and_parse(self, record: dict) -> dict:
        return record  # no parsing by the tap's SCHEMA: a value it cannot parse would stop the run, quoted

    def _singer_validate_message(self, record: dict) -> None:
        """Missing key properties are a contract problem (the record is skipped), not a crash."""


class ContractCheck:
    """One per target run: checks each record, skips the bad ones, counts problem classes for stderr."""

    def __init__(self, target) -> None:
        self._target = target
        self.declared = DeclaredSchema.from_config(target.config)  # a bad declaration stops the run (exit 2)
        self._classes: Counter[tuple[str, str, str]] = Counter()
        self._expected: dict[tuple[str, str, str], str] = {}
        self._refused: Counter[str] = Counter()  # records skipped, by stream
        self._account: Account | None = None
        self._lock = threading.Lock()

    @property
    def _writes(self) -> bool:
        settings = self._target.settings
        return not (settings.dry_run or settings.reconcile)

    def account(self) -> Account:
        """The account's fields and pipelines, read once, for settings that name them."""
        if self._account is None:
            client = self._target.loader.client if self._writes else build_client(self._target.settings)
            self._account = Account(client)
        return self._account

    def prepare_schema(self, stream: str, schema: dict) -> dict:
        """The stream's SCHEMA with the settings' pipelines and custom fields merged in, and `x-pipedrive-field`
        declarations the target cannot create taken out (listed on stderr and in the summary)."""
        if self._target.settings.reconcile:
            return schema
        merged, refused = self.declared.merge(stream, schema, self.account)
        for name, why in refused:
            pipelines = name == "x-pipedrive-pipelines"
            what = "a pipeline declaration" if pipelines else f"custom field {name!r}"
            effect = "deals naming it are skipped (unknown_pipeline)" if pipelines else "its values are not written"
            print(f"target-pipedrive: {stream} {what} not set up ({why}): {effect}", file=sys.stderr)
            if self._writes:
                self._target.loader.report.warn(stream, name if pipelines else f"custom_fields.{name}",
                                                "invalid_field_declaration", why)
        return merged

    def admit(self, sink, record: dict) -> dict | None:
        """The record as the sinks read it, or None when it breaks the contract (then it is skipped)."""
        contract = getattr(sink, "_input_contract", None)
        if contract is None:  # one per sink: a new SCHEMA (a new sink) may declare other custom fields
            contract = sink._input_contract = StreamContract(sink.stream_name, sink.schema, sink.key_properties)
        record = contract.coerce(self._gathered(sink.stream_name, record))
        problems = contract.problems(record)
        if problems:
            self._refuse(sink.stream_name, record, problems)
            return None
        if self._writes and sink.stream_name in FIELD_ENDPOINTS:
            return self.declared.apply_option_policy(sink.stream_name, record, self._target.loader)
        return record

    def _gathered(self, stream: str, record: Any) -> Any:
        """A generic tap's flat column named like a custom field declared in the settings goes into
        `custom_fields` (a contract property of the same name stays where it is)."""
        declared = self.declared.custom_fields.get(stream)
        if not declared or not isinstance(record, dict):
            return record
        flat = [name for name in declared if name in record and name not in stream_schema(stream)["properties"]]
        if not flat or not isinstance(record.get("custom_fields") or {}, dict):
            return record
        gathered = {**record, "custom_fields": dict(record.get("custom_fields") or {})}
        for name in flat:
            gathered["custom_fields"].setdefault(name, gathered.pop(name))
        return gathered

    def _refuse(self, stream: str, record: Any, problems: list[Problem]) -> None:
        with self._lock:
            self._refused[stream] += 1
            for problem in problems:  # a class counts records: emails[0] and emails[1] of one record count once
                self._expected.setdefault((stream, problem.problem_class, problem.reason), problem.expected)
            self._classes.update({(stream, p.problem_class, p.reason) for p in problems})
        if not self._writes:
            return
        source_id = record.get("source_id") if isinstance(record, dict) else None
        if not any(p.path == "source_id" for p in problems) and source_id is not None:
            source_id = str(source_id)
        else:
            source_id = None  # a source id that breaks the contract is not written anywhere
        detail = "; ".join(f"{p.path}: {p.reason} ({p.expected})" for p in problems)
        loader = self._target.loader
        loader.report.count(stream, "received")
        loader.skip(stream, {"source_id": source_id}, SKIP_REASON, detail, log=False,
                    problems=[p.as_row() for p in problems])
        for problem in problems:
            loader.report.warn(stream, problem.problem_class, problem.reason,
                               f"record skipped: {problem.expected}")

    def problem_lines(self) -> list[str]:
        with self._lock:
            return [f"target-pipedrive: {count} {stream} record(s) skipped by the input contract: {path}: {reason}"
                    f" ({self._expected[(stream, path, reason)]})"
                    for (stream, path, reason), count in sorted(self._classes.items())]

    def refused_summary(self) -> dict[str, dict]:
        """Records skipped so far, by stream, with each problem class and its count (no values, no source ids)."""
        with self._lock:
            out = {stream: {"records": count, "problems": []} for stream, count in sorted(self._refused.items())}
            for (stream, path, reason), count in sorted(self._classes.items()):
                out[stream]["problems"].append({"property": path, "reason": reason,
                                                "expected": self._expected[(stream, path, reason)],
                                                "records": count})
            return out

    def print_problems(self) -> None:
        """One line per problem class, with its count (no values, no source ids)."""
        for line in [*self.problem_lines(), *self.declared.option_lines()]:
            print(line, file=sys.stderr)


# ---- publishing the contract -------------------------------------------------------------------------


def with_contract(about_text: str, output_format: str | None) -> str:
    """`--about` output with the input contract added: the schemas (json), or a stream list (text, markdown)."""
    if output_format == "json":
        data = json.loads(about_text)
        data["input_contract"] = {"streams": contract(), "custom_field_types": list(FIELD_TYPES),
                                  "skip_reason": SKIP_REASON}
        return json.dumps(data, indent=2, default=str)
    where = "`--about --format json` prints each stream's JSON Schema; target_pipedrive/schemas/ holds them"
    markdown = output_format == "markdown"
    lines = ["", "## Input contract", "", f"{where}.", ""] if markdown else ["", f"Input contract ({where}):"]
    for stream in CONTRACT_STREAMS:
        schema = stream_schema(stream)
        required = ", ".join(schema.get("required") or []) or "none"
        name = f"`{stream}`" if markdown else stream
        lines.append(f"{'-' if markdown else '  -'} {name}: required {required}; {len(schema['properties'])} properties")
    return about_text.rstrip("\n") + "\n" + "\n".join(lines)


README_START = "<!-- input-contract:start (generated by `python -m target_pipedrive.validation`) -->"
README_END = "<!-- input-contract:end -->"


def _type_text(schema: dict) -> str:
    types = schema.get("type") or []
    types = [types] if isinstance(types, str) else types
    text = " \\| ".join(t for t in types if t != "null")
    if schema.get("enum"):
        text = " \\| ".join(f"`{v}`" for v in schema["enum"] if v is not None)
    if "items" in schema and schema["items"].get("properties"):
        text += " of {" + ", ".join(schema["items"]["properties"]) + "}"
    return text + (", nullable" if "null" in types else "")


def readme_section() -> str:
    """The README's contract tables, generated from the schema files (tests keep the README equal to it)."""
    out = [README_START, ""]
    for stream in CONTRACT_STREAMS:
        schema = stream_schema(stream)
        required = set(schema.get("required") or [])
        out += [f"**`{stream}`** — {schema['description']} ([schema](target_pipedrive/schemas/{stream}.json))", "",
                "| property | type | |", "|---|---|---|"]
        for name, prop in schema["properties"].items():
            mark = "**required** " if name in required else ""
            out.append(f"| `{name}` | {_type_text(prop)} | {mark}{prop.get('description', '')} |")
        out.append("")
    out.append(README_END)
    return "\n".join(out)


def main() -> None:
    """Rewrite the README's generated contract section from the schema files."""
    readme = Path(__file__).resolve().parents[1] / "README.md"
    text = readme.read_text(encoding="utf-8")
    start, end = text.index(README_START), text.index(README_END) + len(README_END)
    readme.write_text(text[:start] + readme_section() + text[end:], encoding="utf-8")


if __name__ == "__main__":
    main()
