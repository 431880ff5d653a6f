"""Turns PracticeHub Singer messages into Pipedrive-shaped ones, as the mapping file says.

`mapper.py` hands each message here; this class keeps the run's lookups, emits SCHEMA messages
just before the first record of each output stream (again when enum options or pipelines grow),
and counts every input record for the reconciliation.
"""

from __future__ import annotations

import logging
from pathlib import Path

from map_practicehub_pipedrive import dedupe, phi, phi_values, sample, schemas, workflows
from map_practicehub_pipedrive.convert import BadValue, Clock
from map_practicehub_pipedrive.degrade import (
    DEFAULT_ON_INVALID,
    PART_HEADING_ROOM,
    Degradations,
    clean_controls,
    has_controls,
    split_html,
)
from map_practicehub_pipedrive.entities import (
    activities,
    deals,
    files,
    kept_values,
    notes,
    organizations,
    persons,
)
from map_practicehub_pipedrive.entities.common import Merged, compile_converter
from map_practicehub_pipedrive.mapping import check_confirmed, phi_marks, read_mapping, stream_plans
from map_practicehub_pipedrive.reconciliation import Reconciliation
from map_practicehub_pipedrive.reference import Reference

logger = logging.getLogger("map-practicehub-pipedrive")

ENTITY_STREAMS = ("organizations", "persons", "deals", "activities", "notes", "files")
ENTITY_MODULES = {"organizations": organizations, "persons": persons, "deals": deals,
                  "activities": activities, "notes": notes, "files": files}
BUILDERS = {name: module.build for name, module in ENTITY_MODULES.items()}
COUNTED = {"documented", "reference", "consumed"}
# Streams other records point at, and the lookup that says "migrated" (no lookup: the merge map decides).
PARENT_LOOKUPS = {"locations": "locations", "patients": None, "appointments": "appointments",
                  "clinical_notes": "clinical_notes", "invoices": "invoices"}
STATE_FILE = "mapper_state.json"


def from_config(config: dict) -> Transformer:
    """The transformer for a config the SDK validated (settings.CONFIG_SCHEMA): refuses an unconfirmed or
    changed mapping file."""
    path = config["mapping_file"]
    mapping = read_mapping(path)
    check_confirmed(mapping, path)
    return Transformer(dict(config), mapping)


class Transformer:
    def __init__(self, config: dict, mapping: dict) -> None:
        self.include_phi = phi.include_phi(config, phi_marks(mapping))
        self.mapping = mapping
        self.plans = stream_plans(mapping, include_phi=self.include_phi)
        self.limits = mapping.get("limits") or {}
        self.on_invalid = mapping.get("on_invalid") or DEFAULT_ON_INVALID
        self.date_order = config.get("date_order") or None
        self.degraded = Degradations("", "")  # the record being built; replaced for each record
        self.note_limit = int(self.limits.get("note_content", 100000))
        self.clock = Clock(config.get("source_timezone") or "UTC")
        self.currency = config.get("currency") or "USD"
        self.reports_dir = Path(config.get("reports_dir") or "reports/map-practicehub-pipedrive")
        state_dir = Path(config.get("state_dir") or self.reports_dir / "state")
        self.sample_size = int(config.get("sample_size") or 0)
        # A sample neither reads nor writes the state: its output must stand alone (no references to what an
        # earlier, possibly unloaded, run saw) and the full run must not inherit the sample's lookups.
        self.reconcile = bool(config.get("reconcile"))
        self.reference = Reference(None if self.sample_size else state_dir / STATE_FILE, read_only=self.reconcile)
        self.skipped_parents: set[str] = set()  # "<stream>:<id>" this run skipped: nothing may point at them
        self.state_file = state_dir / STATE_FILE
        self.dedupe = dedupe.Dedupe(self.reference, mapping, dedupe.run_id_for(self.reports_dir, config.get("run_id")))
        self.reconciliation = Reconciliation()
        self.workflows = workflows.WorkflowBook(int(config.get("automation_cap", workflows.DEFAULT_AUTOMATION_CAP)))
        self.buffer: list[tuple[str, dict]] | None = [] if self.sample_size else None
        self.registries = {stream: schemas.FieldRegistry() for stream in ENTITY_STREAMS}
        self.pipelines: dict[str, list[str]] = {}
        self.pipelines_changed = False
        self.schema_sent: set[str] = set()
        self.persons_sent: dict[str, str] = {}  # survivors, serialised, to re-send with merges
        self.out: list[dict] = []
        self._converters: dict[tuple, list[tuple]] = {}
        self._org_names: dict[str, str] = {}
        self._prepare_plans(mapping)
        self.phi_values = phi_values.PhiValues(mapping, self.plans, config.get("phi_policy") or "refuse")
        # The person SCHEMA names the PHI the target must never send under this policy (its second line).
        self.phi_schema = {"policy": "include" if self.include_phi else "exclude",
                           "left_out_properties": self._left_out_properties(mapping),
                           "left_out_streams": sorted(name for name, plan in self.plans.items() if plan.phi_left_out)}
        for name, definition in sorted(self.reference.custom_field_definitions.items()):
            self._check_definition(name, definition.get("phi"))  # what an earlier run learnt (delta runs)

    def _prepare_plans(self, mapping: dict) -> None:
        self.standard: dict[str, list[tuple[str, str]]] = {}
        self.custom_rules: dict[str, list] = {}
        self.list_rules: dict[str, list] = {}
        self.list_sources: dict[str, set[str]] = {}
        self.stripped: dict[str, frozenset[str]] = {}
        for name, plan in self.plans.items():
            # Fields the file sends to `skip` (or PHI left out) never reach the entity modules.
            dropped = {rule.source for rule in plan.fields if rule.target == "skip"}
            dropped |= {mark.removeprefix("fields.") for mark in plan.phi_dropped if mark.startswith("fields.")}
            dropped -= {rule.source for rule in plan.fields if rule.target != "skip"} | {"id"}
            if plan.target in ENTITY_MODULES:
                dropped &= ENTITY_MODULES[plan.target].READS  # others never reach the record built
            if dropped:
                self.stripped[name] = frozenset(dropped)
            self.standard[name] = [(rule.target, rule.source) for rule in plan.fields
                                   if not rule.is_custom and rule.target != "skip"]
            self.custom_rules[name] = [rule for rule in plan.fields if rule.is_custom]
            self.list_rules[name] = list(plan.custom_fields)
            self.list_sources[name] = set((mapping["streams"][name] or {}).get("custom_fields") or {})
            if plan.target in ENTITY_STREAMS:
                for rule in self.custom_rules[name] + self.list_rules[name]:
                    self.registries[plan.target].add(rule.logical_name, rule.label or rule.logical_name,
                                                     rule.field_type, rule.options, rule.phi)

    # --- helpers the entity modules use -----------------------------------------------------------

    def value_problem(self, problem: BadValue, where: str, raw: object, rule=None, limit: int | None = None):
        """What lands instead of a value that failed to convert (the field's on_invalid, else the file's)."""
        policy = getattr(rule, "on_invalid", None) or self.on_invalid
        return self.degraded.value_problem(problem, where, raw, policy, limit)

    def standard_values(self, plan, record: dict) -> dict:
        values: dict = {}
        for target, source in self.standard[plan.name]:
            if target not in values:
                values[target] = record.get(source)
        return values

    def converters(self, out_stream: str, stream: str, rules: list) -> list[tuple]:
        key = (out_stream, stream, id(rules))
        compiled = self._converters.get(key)
        if compiled is None:
            compiled = [(rule.logical_name, rule.source, compile_converter(self, out_stream, rule, stream))
                        for rule in rules]
            self._converters[key] = compiled
        return compiled

    def organization_by_name(self, name: str | None) -> str | None:
        if not name:
            return None
        if len(self._org_names) != len(self.reference.locations):
            self._org_names = {}
            for location_id, org_name in sorted(self.reference.locations.items(), reverse=True):
                self._org_names[org_name.strip().lower()] = f"locations:{location_id}"
        return self._org_names.get(name.strip().lower())

    def add_pipeline(self, name: str) -> None:
        if name not in self.pipelines:
            self.pipelines[name] = list(self.plans["appointments"].extra.get("stages") or ["Scheduled"])
            self.pipelines_changed = True

    # --- messages ---------------------------------------------------------------------------------

    def record(self, stream: str, record: dict) -> list[dict]:
        if self.buffer is not None:
            self.buffer.append((stream, record))
            return []
        self._record(stream, record)
        return self._take()

    def state(self, message: dict) -> list[dict]:
        if self.buffer is not None:
            return []  # a sample must not advance bookmarks: the full run reads everything again
        self.reference.save()
        self.out.append(message)
        return self._take()

    def finish(self) -> list[dict]:
        if self.buffer is not None:
            keep = sample.select(self.buffer, self.sample_size)
            buffered, self.buffer = self.buffer, None
            for kept, (stream, record) in zip(keep, buffered, strict=True):
                if kept:
                    self._record(stream, record)
                else:
                    self.reconciliation.count(stream, "not_sampled")
        self.reference.save()
        # A sample keeps no state: it reports its own decisions and leaves the migration's report alone.
        self.dedupe.write_report(self.reports_dir, sample=bool(self.sample_size),
                                 cumulative=not self.sample_size or not self.state_file.exists())
        self.phi_values.write(self.reports_dir)
        self.workflows.write(self.reports_dir)
        report = self.reconciliation.write(self.reports_dir)
        logger.info("Reconciliation %s: %s", "balanced" if report["balanced"] else "NOT balanced",
                    {name: {k: v for k, v in row.items() if k in ("in", "out", "skipped", "merged")}
                     for name, row in report["streams"].items()})
        return self._take()

    def _take(self) -> list[dict]:
        out, self.out = self.out, []
        return out

    def _record(self, stream: str, record: dict) -> None:
        plan = self.plans.get(stream)
        if plan is None or plan.target == "skip":
            reason = "unmapped_stream" if plan is None else "stream_skipped_by_mapping"
            self._skip(stream, record, reason, f"the mapping file sends stream {stream} nowhere")
            return
        if plan.target in COUNTED:
            self._counted(plan, record)
            return
        if self.phi_values.active:
            self.phi_values.observe(stream, record)
        if plan.phi_left_out:
            why = "phi_policy is 'exclude'" if not self.include_phi else "minimum_necessary does not select it"
            self._skip(stream, record, "phi_excluded", f"{stream} holds PHI and {why}")
            return
        stripped = self.stripped.get(stream)
        if stripped:
            record = {key: value for key, value in record.items() if key not in stripped}
        self.degraded = degraded = Degradations(stream, f"{stream}:{record.get('id')}")
        if has_controls(record):
            cleaned: list[str] = []
            record = clean_controls(record, cleaned)
            for where in cleaned:
                degraded.note(f"{stream}.{where}", "control_characters", "cleaned")
        try:
            items = BUILDERS[plan.target](self, plan, record)
            if degraded.kept:
                items = type(items)([*items, *kept_values.notes(self, plan, record, items, degraded)])
            if any(out == "notes" and len(entity.get("content") or "") > self.note_limit for out, entity in items):
                items = type(items)(self._split_notes(items))
        except BadValue as problem:
            self._skip(stream, record, problem.reason, problem.detail)
            return
        except (TypeError, ValueError, AttributeError, KeyError) as problem:
            # A record of an unexpected shape: skip it, naming the error class only (values may be PHI).
            self._skip(stream, record, "invalid_record", f"{stream} record has an unexpected shape "
                                                         f"({type(problem).__name__})")
            return
        if self.skipped_parents and stream in PARENT_LOOKUPS:
            self.skipped_parents.discard(f"{stream}:{record.get('id')}")  # a later, valid copy of the record
        for out_stream, entity in items:
            self._emit(out_stream, entity)
        for entry in degraded.entries:
            self._emit("degraded", entry)
            self.reconciliation.degraded(stream, entry["reason"])
        self.reconciliation.count(stream, "merged" if isinstance(items, Merged) else "out")

    def _split_notes(self, items: list) -> list:
        """A note over Pipedrive's limit becomes consecutive notes ("part 1 of N"), all with its time and links."""
        result = []
        for out_stream, entity in items:
            content = entity.get("content") or ""
            if out_stream != "notes" or len(content) <= self.note_limit:
                result.append((out_stream, entity))
                continue
            parts = split_html(content, self.note_limit - PART_HEADING_ROOM)
            self.degraded.note(f"{self.degraded.stream}.content", "text_too_long", "split")
            for number, part in enumerate(parts, 1):
                source_id = entity["source_id"] if number == 1 else f"{entity['source_id']}#part-{number}"
                heading = f"<p><em>(part {number} of {len(parts)})</em></p>"
                result.append(("notes", {**entity, "source_id": source_id, "content": heading + part,
                                         "custom_fields": {**entity.get("custom_fields", {}),
                                                           "practicehub_id": source_id}}))
        return result

    def _counted(self, plan, record: dict) -> None:
        key = str(record.get("id"))
        if plan.name == "practitioners":
            name = " ".join(str(part) for part in (record.get("first_name"), record.get("last_name")) if part)
            self.reference.practitioners[key] = [record.get("email") or None, name or None]
        elif plan.name == "appointment_types":
            self.reference.appointment_types[key] = [str(record.get("name") or f"Type {key}"), record.get("price")]
        elif plan.name == "patient_custom_fields":
            self._learn_definition(record)
        elif plan.name == "workflows":
            self.workflows.add(record)
        self.reference.dirty = self.reference.dirty or plan.name in (
            "practitioners", "appointment_types", "patient_custom_fields")
        self.reconciliation.count(plan.name, plan.target)

    def _learn_definition(self, record: dict) -> None:
        name = str(record.get("name") or "")
        marked = phi.source_mark(record)
        self.reference.custom_field_definitions[name] = {
            "label": record.get("label"), "field_type": record.get("field_type"),
            "options": [str(option) for option in record.get("options") or []], "phi": marked}
        self._check_definition(name, marked)
        for rule in self.list_rules.get("patients", []):
            if rule.source == name and rule.field_type in schemas.OPTION_TYPES and not rule.options:
                self.registries["persons"].add_options(rule.logical_name,
                                                       [str(option) for option in record.get("options") or []])

    def _left_out_properties(self, mapping: dict) -> dict[str, list[str]]:
        """Output stream → standard properties whose PHI source the policy left out (persons: birthday)."""
        found: dict[str, set[str]] = {}
        for name, plan in self.plans.items():
            fields = (mapping["streams"][name] or {}).get("fields") or {}
            for mark in plan.phi_dropped:
                if not mark.startswith("fields."):
                    continue
                raw = fields.get(mark.removeprefix("fields."))
                for rule in raw if isinstance(raw, list) else [raw]:
                    target = str((rule or {}).get("target"))
                    if target in schemas.PROPERTIES.get(plan.target, ()):
                        found.setdefault(plan.target, set()).add(target)
        return {stream: sorted(names) for stream, names in sorted(found.items())}

    def _check_definition(self, name: str, marked: bool | None) -> None:
        """PracticeHub marks a field PHI that the mapping sends as not PHI, unconfirmed: leave it out anyway."""
        plan = self.plans.get("patients")
        if not marked or plan is None:
            return
        mark = phi.mark_of("patients", "custom_fields", name)
        if mark in self.phi_values.confirmed_not_phi:
            return  # the reviewer saw PracticeHub's mark and confirmed the field as not PHI
        rules = [rule for rule in plan.custom_fields if rule.source == name and not rule.phi]
        carried = self.include_phi and mark in (self.mapping.get("minimum_necessary") or [mark])
        if not rules or carried:
            return
        plan.custom_fields[:] = [rule for rule in plan.custom_fields if rule not in rules]
        plan.phi_dropped.append(f"custom_fields.{name}")
        self.list_rules["patients"] = list(plan.custom_fields)
        for rule in rules:
            self.registries["persons"].remove(rule.logical_name)
        self.phi_values.leave_out("patients", name, "PracticeHub marks it PHI (seen at run time; the mapping "
                                  "sent it as not PHI without confirming that)", plan)
        logger.warning("patients.custom_fields.%s: PracticeHub marks it PHI; left out (the mapping sends it as not "
                       "PHI but that was not confirmed: re-run propose and confirm)", name)

    def _skip(self, stream: str, record: dict, reason: str, detail: str) -> None:
        identifier = record.get("id") if isinstance(record, dict) else None
        identifier = identifier if isinstance(identifier, (int, str)) else None
        self._emit("skipped", {"source_stream": stream, "source_id": f"{stream}:{identifier}",
                               "reason": reason, "detail": detail})
        self.reconciliation.count(stream, "skipped", reason)
        if stream in PARENT_LOOKUPS and identifier is not None:
            self._forget_parent(stream, str(identifier))

    def _forget_parent(self, stream: str, identifier: str) -> None:
        """Children of a skipped record are skipped (or put on the person), never pointed at it."""
        self.skipped_parents.add(f"{stream}:{identifier}")
        lookup = PARENT_LOOKUPS[stream]
        if lookup and getattr(self.reference, lookup).pop(identifier, None) is not None:
            self.reference.dirty = True  # an earlier run's entity this run rejects: later runs don't use it
            self._org_names = {}

    def _emit(self, stream: str, record: dict) -> None:
        if stream == "deals" and (self.pipelines_changed or stream not in self.schema_sent):
            self.registries[stream].changed = True
        registry = self.registries.get(stream)
        if stream not in self.schema_sent or (registry is not None and registry.changed):
            pipelines = None
            if stream == "deals":
                pipelines = [{"name": name, "stages": [{"name": stage, "order": order}
                                                       for order, stage in enumerate(stages, 1)]}
                             for name, stages in self.pipelines.items()]
                self.pipelines_changed = False
            identity = self.dedupe.contract if stream == "persons" else None
            self.out.append(schemas.schema_message(stream, registry, pipelines, identity, self.phi_schema))
            self.schema_sent.add(stream)
            if registry is not None:
                registry.changed = False
        if self.phi_values.by_patient:
            record = self.phi_values.clean(stream, record, self.reference.merged)
        self.out.append({"type": "RECORD", "stream": stream, "record": record})
        self.reconciliation.emitted[stream] += 1
