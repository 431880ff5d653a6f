"""Helpers every entity module uses: references, owners, custom field values."""

from __future__ import annotations

import html
import typing as t

from map_practicehub_pipedrive.convert import DATE_RE, BadValue, check_length, email, money, parse_date, text

if t.TYPE_CHECKING:
    from map_practicehub_pipedrive.entities.context import RunContext
    from map_practicehub_pipedrive.mapping import FieldRule, StreamPlan

NO_OWNER = {"owner_email": None, "owner_name": None, "owner_source_id": None}


def source_id(stream: str, record: dict) -> str:
    value = record.get("id")
    if value is None or str(value).strip() == "":
        raise BadValue("missing_id", f"{stream} record has no id")
    return f"{stream}:{value}"


def owner(run: RunContext, practitioner_id: object) -> dict:
    """The practitioner as owner: the target resolves the email against Pipedrive users."""
    if practitioner_id is None or practitioner_id == "":
        return dict(NO_OWNER)
    email, name = run.reference.practitioners.get(str(practitioner_id), (None, None))
    return {"owner_email": email, "owner_name": name, "owner_source_id": f"practitioners:{practitioner_id}"}


def org_source_id(run: RunContext, location_id: object) -> str | None:
    """Only clinics that became organizations are referenced (no dangling references)."""
    if location_id is None or str(location_id) not in run.reference.locations:
        return None
    return f"locations:{location_id}"


def survivor(run: RunContext, patient_id: object, stream: str) -> str:
    key = text(patient_id) if patient_id is not None else None
    found = run.dedupe.survivor_of(key) if key is not None else None
    if run.skipped_parents:
        for patient in (key, found):
            if patient is not None and f"patients:{patient}" in run.skipped_parents:
                raise BadValue("parent_skipped", f"{stream} refers to patients:{patient}, which this run skipped")
    if found is None:
        raise BadValue("patient_missing", f"{stream} refers to patients:{patient_id}, which was not migrated")
    return found


def check_parent(run: RunContext, plan: StreamPlan, parent: str) -> None:
    """A record whose parent this run skipped is skipped too, unless the mapping puts it on the person.

    The stream's `when_parent_skipped` says which: `skip` (default) or `person`.
    """
    if parent in run.skipped_parents and plan.extra.get("when_parent_skipped", "skip") != "person":
        raise BadValue("parent_skipped", f"{plan.name} refers to {parent}, which this run skipped")


def deal_of(run: RunContext, plan: StreamPlan, appointment_id: object) -> str | None:
    """The deal of an appointment migrated by this run or an earlier one, else None (the person only)."""
    if appointment_id is None:
        return None
    key = str(appointment_id)
    if key in run.reference.appointments:
        return f"appointments:{key}"
    if run.skipped_parents:
        check_parent(run, plan, f"appointments:{key}")
    return None


def note_time(run: RunContext, raw: object, where: str) -> str | None:
    """A note's original time, or None (Pipedrive then uses the time of the write) when it does not parse."""
    try:
        return run.clock.note_time(raw, where)
    except BadValue as problem:
        return run.value_problem(problem, where, raw)


def escape(value: object) -> str:
    return html.escape(str(value), quote=False) if value is not None else ""


def custom_values(run: RunContext, out_stream: str, rules: list[FieldRule], values: dict,
                  stream: str) -> dict:
    """Custom field values by logical name, each converted by its rule's compiled converter."""
    result: dict = {}
    for (logical, source, convert), rule in zip(run.converters(out_stream, stream, rules), rules, strict=True):
        raw = values.get(source)
        if raw is None or (raw.__class__ is str and (not raw or raw.isspace())):
            result[logical] = None
            continue
        try:
            result[logical] = convert(raw)
        except BadValue as problem:
            limit = run.limits.get(rule.field_type, 255 if rule.field_type == "varchar" else 65535) if (
                rule.field_type in ("varchar", "text")) else None
            result[logical] = run.value_problem(problem, f"{stream}.{source}", raw, rule, limit)
    return result


def compile_converter(run: RunContext, out_stream: str, rule: FieldRule, stream: str) -> t.Callable:
    """A function turning one non-blank raw value into the rule's field type."""
    where = f"{stream}.{rule.source}"
    kind, limits, clock = rule.field_type, run.limits, run.clock

    if kind == "varchar" and rule.format == "iso8601_utc":
        return lambda raw: clock.iso_utc(raw, where)
    if kind == "varchar" and rule.format == "email":
        return lambda raw: email(raw, where)
    if kind in ("varchar", "text"):
        limit = limits.get(kind, 255 if kind == "varchar" else 65535)
        return lambda raw: check_length(text(raw), limit, where)
    if kind == "date":
        def to_date(raw: object) -> str | None:
            value = text(raw)
            if value and len(value) > 10 and value[:10].count("-") == 2:
                return clock.local_date(value, where)
            converted = parse_date(value, where, run.date_order)
            if value and not DATE_RE.match(value):
                run.degraded.note(where, "date_form", "reinterpreted")
            return converted
        return to_date
    if kind in ("double", "monetary"):
        def to_number(raw: object) -> float | None:
            converted = money(raw, where)
            if converted is not None and not _plain_number(raw):
                run.degraded.note(where, "number_form", "reinterpreted")
            return converted
        return to_number
    registry = run.registries[out_stream]
    if kind == "enum":
        limit = limits.get("varchar", 255)

        def to_label(raw: object) -> str | None:
            label = check_length(text(raw), limit, where)
            if label is not None and label not in registry.fields[rule.logical_name]["options"]:
                if rule.new_options == "keep_as_text":
                    raise BadValue("not_an_option", f"{where} is not one of the field's options")
                registry.add_options(rule.logical_name, [label])
            return label
        return to_label
    if kind == "set":
        def to_labels(raw: object) -> list[str]:
            labels = [text(item) for item in (raw if isinstance(raw, list) else str(raw).split(","))]
            labels = [label for label in labels if label]
            registry.add_options(rule.logical_name, labels)
            return labels or None  # none: unset, as for a blank value (the field may not be declared yet)
        return to_labels
    if kind == "org":
        def to_org(raw: object) -> dict | None:
            name = text(raw)
            found = run.organization_by_name(name)
            return {"source_id": found} if found else {"name": name}
        return to_org
    return text


def _plain_number(raw: object) -> bool:
    if isinstance(raw, int | float):
        return True
    try:
        float(str(raw).strip())
        return True
    except ValueError:
        return False


class Merged(list):
    """Entity records emitted for a source record that was folded into another (de-duplication)."""
