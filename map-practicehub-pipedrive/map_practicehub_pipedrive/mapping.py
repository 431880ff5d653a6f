"""The mapping file: load and validate it, check and write its confirmation, and propose one."""

from __future__ import annotations

import copy
import getpass
import hashlib
import json
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path

import click
import yaml
from target_pipedrive import identity

from map_practicehub_pipedrive import phi
from map_practicehub_pipedrive.degrade import ON_INVALID
from map_practicehub_pipedrive.profiling import guess_field, profile_records

Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when present: faster start-up

FIELD_TYPES = {"varchar", "text", "double", "monetary", "date", "time", "enum", "set", "phone",
               "address", "org", "people", "user"}
RULE_KEYS = {"target", "reason", "confidence", "label", "field_type", "options", "phi", "phi_found", "format",
             "on_invalid", "new_options"}
NEW_OPTIONS = ("add", "keep_as_text")
LABEL_LIMIT = 255  # Pipedrive's field_name maxLength (v2 *Fields)
WHEN_PARENT_SKIPPED = ("skip", "person")
STREAM_TARGETS = {"organizations", "persons", "deals", "activities", "notes", "files",
                  "reference", "documented", "consumed", "skip"}
CONFIRM_COMMAND = "map-practicehub-pipedrive confirm --mapping {path}"
# Standard targets Pipedrive does not have (older mapping files used them): what to map to instead.
NO_SUCH_TARGET = {
    ("organizations", "phone"): "custom_fields.phone with field_type phone",
    ("organizations", "email"): "custom_fields.email with field_type varchar and format email",
}


class MappingError(click.ClickException):
    """The mapping file is missing, invalid, unconfirmed or changed: the message says how to fix it."""

    exit_code = 2


def default_mapping() -> dict:
    text = resources.files("map_practicehub_pipedrive").joinpath("default_mapping.yaml").read_text("utf-8")
    return yaml.load(text, Loader=Loader)  # noqa: S506 (a safe loader)


def content_hash(data: dict) -> str:
    """SHA-256 of the mapping's meaning (not its layout or comments), without the confirmed block."""
    content = {key: value for key, value in data.items() if key != "confirmed"}
    canonical = json.dumps(content, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def read_mapping(path: str | Path) -> dict:
    path = Path(path)
    if not path.is_file():
        raise MappingError(
            f"mapping file {path} not found. Propose one with `meltano run propose-mapping`, review it, "
            f"then run: {CONFIRM_COMMAND.format(path=path)}"
        )
    try:
        data = yaml.load(path.read_text("utf-8"), Loader=Loader)  # noqa: S506 (a safe loader)
    except yaml.YAMLError as exc:
        raise MappingError(f"mapping file {path} is not valid YAML: {exc}") from None
    if not isinstance(data, dict) or not isinstance(data.get("streams"), dict):
        raise MappingError(f"mapping file {path} has no 'streams:' section")
    validate(data, path)
    return data


def confirmation_hash(data: dict, non_phi: list[str]) -> str:
    """The content hash, bound to the fields confirmed as not PHI (none: the plain content hash)."""
    digest = content_hash(data)
    if not non_phi:
        return digest
    return hashlib.sha256(json.dumps([digest, sorted(non_phi)]).encode("utf-8")).hexdigest()


def non_phi_overrides(data: dict) -> list[dict]:
    """Fields sent as not PHI that the source did not mark so (`confirm` shows them and binds them)."""
    return phi.non_phi_overrides(data, default_mapping())


def check_confirmed(data: dict, path: str | Path) -> None:
    """Refuse an unconfirmed map, or one changed since it was confirmed."""
    how = f"Review it, then run: {CONFIRM_COMMAND.format(path=path)}"
    mark = data.get("confirmed")
    if not isinstance(mark, dict) or not mark.get("sha256"):
        raise MappingError(f"mapping file {path} is not confirmed. {how}")
    overrides = [item["mark"] for item in non_phi_overrides(data)]
    confirmed = sorted(mark.get("non_phi") or [])
    if mark["sha256"] == content_hash(data) and overrides and not confirmed:
        raise MappingError(f"mapping file {path} sends fields as not PHI that were not confirmed as such "
                           f"({', '.join(overrides[:6])}): the source marks them PHI or does not classify "
                           f"them. {how}")
    if mark["sha256"] != confirmation_hash(data, overrides) or confirmed != overrides:
        raise MappingError(f"mapping file {path} changed since it was confirmed by {mark.get('by')}. {how}")


def confirm(path: str | Path, by: str | None = None, at: datetime | None = None) -> dict:
    """Write (or replace) the `confirmed:` block at the end of the file, keeping the rest verbatim.

    Fields marked not PHI that the source did not mark so are listed in the block (`non_phi`) and bound
    into its hash: a later change of any of them needs a new confirmation.
    """
    path = Path(path)
    data = read_mapping(path)
    overrides = [item["mark"] for item in non_phi_overrides(data)]
    mark = {
        "sha256": confirmation_hash(data, overrides),
        "by": by or getpass.getuser(),
        "at": (at or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    if overrides:
        mark["non_phi"] = overrides
    body = _without_confirmed_block(path.read_text("utf-8")).rstrip("\n")
    block = yaml.safe_dump({"confirmed": mark}, sort_keys=False, allow_unicode=True)
    path.write_text(f"{body}\n{block}", "utf-8")
    return mark


def _without_confirmed_block(text: str) -> str:
    kept, skipping = [], False
    for line in text.splitlines(keepends=True):
        if re.match(r"^confirmed\s*:", line):
            skipping = True
            continue
        if skipping and line.strip() and not line[0].isspace():
            skipping = False
        if not skipping:
            kept.append(line)
    return "".join(kept)


def validate(data: dict, path: str | Path) -> None:
    problems = _dedupe_problems(data)
    if data.get("on_invalid", "keep_raw") not in ON_INVALID:
        problems.append(f"on_invalid {data['on_invalid']!r} is not one of {list(ON_INVALID)}")
    for stream, entry in data["streams"].items():
        target = (entry or {}).get("target")
        if target not in STREAM_TARGETS:
            problems.append(f"streams.{stream}.target {target!r} is not one of {sorted(STREAM_TARGETS)}")
            continue
        if entry.get("when_parent_skipped", "skip") not in WHEN_PARENT_SKIPPED:
            problems.append(f"streams.{stream}.when_parent_skipped {entry['when_parent_skipped']!r} is not one "
                            f"of {list(WHEN_PARENT_SKIPPED)}")
        for section in ("fields", "custom_fields"):
            for source, rules in (entry.get(section) or {}).items():
                for rule in rules if isinstance(rules, list) else [rules]:
                    if not isinstance(rule, dict) or "target" not in rule:
                        problems.append(f"streams.{stream}.{section}.{source} needs a target")
                    elif (target, rule["target"]) in NO_SUCH_TARGET:
                        problems.append(
                            f"streams.{stream}.{section}.{source}: Pipedrive {target} have no "
                            f"{rule['target']!r} field; map it to {NO_SUCH_TARGET[target, rule['target']]}")
                    elif set(rule) - RULE_KEYS:
                        problems.append(f"streams.{stream}.{section}.{source} has unknown keys "
                                        f"{sorted(set(rule) - RULE_KEYS)} (quote text that contains commas)")
                    elif rule.get("on_invalid", "keep_raw") not in ON_INVALID:
                        problems.append(f"streams.{stream}.{section}.{source}: on_invalid {rule['on_invalid']!r} "
                                        f"is not one of {list(ON_INVALID)}")
                    elif rule.get("new_options", "add") not in NEW_OPTIONS:
                        problems.append(f"streams.{stream}.{section}.{source}: new_options "
                                        f"{rule['new_options']!r} is not one of {list(NEW_OPTIONS)}")
                    elif str(rule["target"]).startswith("custom_fields.") and (
                        rule.get("field_type") not in FIELD_TYPES
                    ):
                        problems.append(
                            f"streams.{stream}.{section}.{source}: field_type {rule.get('field_type')!r} "
                            f"is not one of {sorted(FIELD_TYPES)}"
                        )
    selected = data.get("minimum_necessary")
    if selected is not None:
        marks = set(phi_marks(data))
        if not isinstance(selected, list) or not all(isinstance(item, str) for item in selected):
            problems.append("minimum_necessary must be a list of PHI marks such as patients.dob")
        else:
            unknown = sorted(set(selected) - marks)
            if unknown:
                problems.append(f"minimum_necessary names {', '.join(unknown)}, which the mapping does not mark "
                                f"PHI (its PHI marks: {', '.join(sorted(marks)) or 'none'})")
    if problems:
        raise MappingError(f"mapping file {path} is invalid: " + "; ".join(problems))


DEDUPE_KEYS = {"match_on", "reason"}


def _dedupe_problems(data: dict) -> list[str]:
    if "dedupe" not in data:
        return []  # an older file: the default rule, the strictest
    block = data["dedupe"]
    if not isinstance(block, dict) or "match_on" not in block:
        return ["dedupe needs match_on (for example match_on: [email, name, date_of_birth])"]
    problems = [f"dedupe has unknown keys {sorted(set(block) - DEDUPE_KEYS)}"] if set(block) - DEDUPE_KEYS else []
    if identity.canonical_rule(block["match_on"]) is None:
        choices = "; ".join(f"[{', '.join(fields)}]" for fields in identity.RULES.values() if fields)
        problems.append(f"dedupe.match_on {block['match_on']!r} is not one of {choices}; or off")
    return problems


def dedupe_rule(data: dict) -> tuple[str, ...]:
    """The fields two patients must agree on to be merged (empty: never merge); the default without a block."""
    block = data.get("dedupe")
    return identity.DEFAULT_MATCH_ON if block is None else identity.canonical_rule(block["match_on"])


@dataclass(frozen=True)
class FieldRule:
    """One source field → one target: a standard entity field or a custom field."""

    source: str
    target: str
    phi: bool = False
    label: str | None = None
    field_type: str | None = None
    options: tuple[str, ...] = ()
    format: str | None = None
    on_invalid: str | None = None  # keep_raw | drop_value | skip_record; None: the file's default
    new_options: str = "add"  # a pick-list value not among the options: add the label, or keep_as_text
    is_custom: bool = field(init=False)
    logical_name: str | None = field(init=False)

    def __post_init__(self) -> None:
        custom = self.target.startswith("custom_fields.")
        object.__setattr__(self, "is_custom", custom)
        object.__setattr__(self, "logical_name", self.target.removeprefix("custom_fields.") if custom else None)


@dataclass
class StreamPlan:
    """What the mapping says about one source stream, after the PHI policy is applied."""

    name: str
    target: str
    reason: str = ""
    phi: bool = False
    fields: list[FieldRule] = field(default_factory=list)
    custom_fields: list[FieldRule] = field(default_factory=list)
    extra: dict = field(default_factory=dict)
    phi_dropped: list[str] = field(default_factory=list)  # "<section>.<source>" left out by the PHI policy
    phi_left_out: bool = False  # a PHI stream the policy leaves out: its records are skipped as phi_excluded
    _targets: dict[str, str] | None = field(default=None, repr=False)

    def targets(self) -> dict[str, str]:
        """Standard target → source field (the first rule wins); computed once, plans don't change."""
        if self._targets is None:
            self._targets = {}
            for rule in self.fields:
                if not rule.is_custom and rule.target != "skip":
                    self._targets.setdefault(rule.target, rule.source)
        return self._targets


def _rules(source: str, raw: dict | list) -> list[FieldRule]:
    return [
        FieldRule(
            source=source,
            target=str(rule["target"]),
            phi=bool(rule.get("phi", False)),
            label=rule.get("label"),
            field_type=rule.get("field_type"),
            options=tuple(str(option) for option in rule.get("options") or ()),
            format=rule.get("format"),
            on_invalid=rule.get("on_invalid"),
            new_options=rule.get("new_options") or "add",
        )
        for rule in (raw if isinstance(raw, list) else [raw])
    ]


def stream_plans(data: dict, *, include_phi: bool) -> dict[str, StreamPlan]:
    """Plans with the PHI the run may not carry taken out: all of it when not `include_phi`, else what
    `minimum_necessary` (when the mapping has it) does not select."""
    selected = data.get("minimum_necessary")
    carried = None if selected is None else set(selected)

    def carries(mark: str) -> bool:
        return include_phi and (carried is None or mark in carried)

    plans = {}
    for name, entry in data["streams"].items():
        entry = entry or {}
        plan = StreamPlan(name=name, target=entry["target"], reason=entry.get("reason", ""),
                          phi=bool(entry.get("phi", False)))
        plan.phi_left_out = plan.phi and not carries(name)
        plan.extra = {key: value for key, value in entry.items()
                      if key not in ("target", "reason", "phi", "phi_found", "fields", "custom_fields")}
        for section, bucket in (("fields", plan.fields), ("custom_fields", plan.custom_fields)):
            for source, raw in (entry.get(section) or {}).items():
                for rule in _rules(source, raw):
                    if rule.phi and not carries(phi.mark_of(name, section, source)):
                        plan.phi_dropped.append(f"{section}.{source}")
                    else:
                        bucket.append(rule)
        plans[name] = plan
    return plans


def phi_marks(data: dict) -> list[str]:
    """Every place the mapping marks PHI: whole streams and single fields (`patients.dob`,
    `patients.custom_fields.mrn`)."""
    marks = []
    for name, entry in data["streams"].items():
        entry = entry or {}
        if entry.get("phi") and entry.get("target") not in ("skip", "consumed", "reference", "documented"):
            marks.append(name)
        for section in ("fields", "custom_fields"):
            for source, raw in (entry.get(section) or {}).items():
                if any(rule.phi and rule.target != "skip" for rule in _rules(source, raw)):
                    marks.append(phi.mark_of(name, section, source))
    return marks


# --- propose -------------------------------------------------------------------------------------

def propose(catalog: dict | None, records: dict[str, list[dict]] | None,
            definitions: list[dict] | None = None) -> dict:
    """A mapping for every stream and field seen in the catalog and/or sample records (offline).

    `definitions` are PracticeHub's patient custom field definitions read in full (the audit's); without them
    only the definitions in `records` are known. Either way a patient-level field nobody classified is PHI.
    """
    defaults = default_mapping()
    records = records or {}
    seen_fields: dict[str, list[str]] = {}
    for entry in (catalog or {}).get("streams", []):
        name = entry.get("tap_stream_id") or entry.get("stream")
        seen_fields[name] = list((entry.get("schema") or {}).get("properties", {}))
    for name, rows in records.items():
        names = seen_fields.setdefault(name, [])
        for row in rows:
            names.extend(key for key in row if key not in names)
    if definitions is None:
        definitions = records.get("patient_custom_fields", [])
    proposed = {key: value for key, value in defaults.items() if key != "streams"}
    proposed["streams"] = {}
    for stream in seen_fields or defaults["streams"]:
        profiles = profile_records(records.get(stream, []))
        if stream in defaults["streams"]:
            entry = copy.deepcopy(defaults["streams"][stream])
        else:
            entry = {"target": "skip", "reason": "no Pipedrive entity is known for this stream; "
                     "map it by hand or leave it skipped (its records are listed as skipped)"}
        for name in seen_fields.get(stream, []):
            if "fields" in entry and name not in entry["fields"] and name != "custom_fields":
                taken = {rule["target"] for raw in entry["fields"].values()
                         for rule in (raw if isinstance(raw, list) else [raw])}
                rule = guess_field(name, profiles.get(name), entry["target"], taken)
                if stream in phi.PATIENT_STREAMS and rule["target"] not in phi.NOT_SENT:
                    rule.update(phi=True, phi_found=None, reason=f"{rule['reason']}; {phi.UNCLASSIFIED}")
                entry["fields"][name] = rule
        _fill_options(stream, entry, profiles, records)
        if stream == "patients":
            _patient_custom_fields(entry, definitions, records.get("patients", []))
        _unique_labels(entry)
        proposed["streams"][stream] = entry
    return proposed


def _fill_options(stream: str, entry: dict, profiles: dict, records: dict[str, list[dict]]) -> None:
    """Pick-list options from the values seen: field profiles and appointment types."""
    for source, raw in (entry.get("fields") or {}).items():
        for rule in raw if isinstance(raw, list) else [raw]:
            if rule.get("field_type") != "enum":
                continue
            if source == "appointment_type_id" and records.get("appointment_types"):
                names = sorted({str(row["name"]) for row in records["appointment_types"] if row.get("name")})
                rule["options"] = names
                rule["reason"] = f"{rule['reason']}; {len(names)} appointment types seen"
            elif profiles.get(source) and profiles[source].distinct:
                values = sorted(profiles[source].distinct)
                rule["options"] = sorted(set(rule.get("options") or []) | set(values))
                rule["reason"] = f"{rule['reason']}; {len(values)} distinct values seen"


def _patient_custom_fields(entry: dict, definitions: list[dict], patients: list[dict]) -> None:
    """One rule per patient custom field, classified and labelled from PracticeHub's definitions."""
    by_name = {str(row.get("name")): row for row in definitions if isinstance(row, dict) and row.get("name")}
    seen_labels: dict[str, str] = {}
    for row in patients:
        for item in row.get("custom_fields") or []:
            if isinstance(item, dict) and item.get("name"):
                seen_labels.setdefault(str(item["name"]), str(item.get("label") or ""))
    custom = entry.setdefault("custom_fields", {})
    for name in sorted(set(by_name) | set(seen_labels)):
        definition = by_name.get(name) or {}
        if name not in custom:
            custom[name] = _rule_from_definition(name, definition, seen_labels.get(name))
            continue
        rules = custom[name] if isinstance(custom[name], list) else [custom[name]]
        first = rules[0]
        if definition.get("label"):
            first["label"] = pipedrive_label(definition["label"])
        if definition.get("field_type") == "select":
            first["field_type"] = "enum"
            first["options"] = [pipedrive_label(option) for option in definition.get("options") or []]
        known = any(rule.get("phi") for rule in rules)
        is_phi, found, why = phi.classify(known, phi.source_mark(definition))
        if is_phi != known or found is not known:
            for rule in rules:
                rule["phi"], rule["phi_found"] = is_phi, found
            first["reason"] = f"{first['reason']}; {why}"


def _rule_from_definition(name: str, definition: dict, seen_label: str | None = None) -> dict:
    kind = {"text": "varchar", "date": "date", "select": "enum", "number": "double"}.get(
        definition.get("field_type"), "varchar")
    is_phi, found, why = phi.classify(None, phi.source_mark(definition))
    label = definition.get("label") or seen_label or name.replace("_", " ").title()
    rule = {"target": f"custom_fields.{name}", "label": pipedrive_label(label), "field_type": kind,
            "phi": is_phi, "phi_found": found,
            "reason": f"{'patient custom field definition' if definition else 'custom field seen in records'}; {why}",
            "confidence": 0.9 if definition else 0.6}
    if kind == "enum":
        rule["options"] = [pipedrive_label(option) for option in definition.get("options") or []]
    return rule


# Characters that belong to the one before them: a label is never cut between the two.
_JOINERS = {"\u200d", "\ufe0f", "\ufe0e", "\u20e3"}


def pipedrive_label(text: object, limit: int = LABEL_LIMIT) -> str:
    """The practice's own words (emoji included) on one line, within Pipedrive's length limit."""
    label = " ".join(str(text).split())
    if len(label) <= limit:
        return label
    cut = limit
    while cut > 0 and (label[cut] in _JOINERS or unicodedata.combining(label[cut])
                       or label[cut - 1] == "\u200d" or 0x1F3FB <= ord(label[cut]) <= 0x1F3FF):
        cut -= 1  # don't split an emoji sequence or a letter from its accent
    return label[:cut].rstrip()


def _unique_labels(entry: dict) -> None:
    """Two custom fields with one label would become one Pipedrive field: the later ones get their name added."""
    used: set[str] = set()
    for section in ("fields", "custom_fields"):
        for source, raw in (entry.get(section) or {}).items():
            for rule in raw if isinstance(raw, list) else [raw]:
                if not isinstance(rule, dict) or not str(rule.get("target", "")).startswith("custom_fields."):
                    continue
                label = str(rule.get("label") or rule["target"].removeprefix("custom_fields."))
                if label.casefold() in used:
                    suffix = f" ({source})"
                    label = pipedrive_label(label, LABEL_LIMIT - len(suffix)) + suffix
                    rule["label"] = label
                used.add(label.casefold())


def phi_summary(data: dict) -> list[str]:
    """How the proposal classified patient data, in one line per kind (for propose's output)."""
    counts = {True: 0, False: 0, None: 0}
    for entry in data["streams"].values():
        for raw in (entry.get("custom_fields") or {}).values():
            rules = raw if isinstance(raw, list) else [raw]
            if rules and "phi_found" in rules[0]:
                counts[rules[0]["phi_found"]] += 1
        for raw in (entry.get("fields") or {}).values():
            rules = raw if isinstance(raw, list) else [raw]
            if rules and "phi_found" in rules[0] and rules[0]["phi_found"] is None:
                counts[None] += 1
    return [f"PHI: {len(phi_marks(data))} PHI marks; patient custom fields marked PHI {counts[True]}, "
            f"not PHI {counts[False]}; {counts[None]} fields nobody classified, proposed as PHI (set phi: false "
            "in the file to send one; confirm lists them)"]


def dump(data: dict, notes: list[str] | None = None) -> str:
    header = ("# Proposed by map-practicehub-pipedrive propose. Review every line (target, reason, confidence),\n"
              "# then confirm with: map-practicehub-pipedrive confirm --mapping <this file>\n"
              "# dedupe.match_on: when two patients are one person. [email, name, date_of_birth] (default),\n"
              "# [email, name], [email] (families sharing an address become one person) or off.\n"
              "# PHI: a patient field is PHI when PracticeHub or the known fields mark it, or when nobody\n"
              "# classified it (phi_found: null); phi: false on such a field is listed by confirm.\n")
    header += "".join(f"# {note}\n" for note in notes or [])
    return header + yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=110)
