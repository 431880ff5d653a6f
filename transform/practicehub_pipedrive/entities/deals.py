"""PracticeHub appointments → Pipedrive deals: one pipeline per appointment type, status → stage."""

from __future__ import annotations

import typing as t

from practicehub_pipedrive.convert import BadValue, check_length, money, text
from practicehub_pipedrive.entities.common import (
    custom_values,
    escape,
    org_source_id,
    owner,
    source_id,
    survivor,
)

if t.TYPE_CHECKING:
    from practicehub_pipedrive.mapping import StreamPlan
    from practicehub_pipedrive.transformer import Transformer

READS = frozenset({"patient_id", "appointment_type_id", "status", "start", "created"})

DEFAULT_PIPELINE = "Appointments"


class _TypeNamed(dict):
    """The record as custom fields see it: the appointment type's name instead of its id (no copy)."""

    def __init__(self, record: dict, type_name: str) -> None:
        super().__init__()
        self.record, self.type_name = record, type_name

    def get(self, key: str, default: object = None) -> object:
        return self.type_name if key == "appointment_type_id" else self.record.get(key, default)


def build(run: Transformer, plan: StreamPlan, record: dict) -> list[tuple[str, dict]]:
    sid = source_id(plan.name, record)
    values = run.standard_values(plan, record)
    person = survivor(run, record.get("patient_id"), plan.name)
    type_id = record.get("appointment_type_id")
    known_type = run.reference.appointment_types.get(str(type_id))
    if known_type is None:
        raise BadValue("unknown_appointment_type", f"{plan.name} refers to appointment_types:{type_id}, not seen")
    type_name = known_type[0]
    status = text(record.get("status"))
    rule = plan.extra.get("status_map", {}).get(status)
    if rule is None:
        raise BadValue("unknown_status", f"status {status!r} is not in the mapping's status_map")
    start_utc = run.clock.iso_utc(record.get("start"), f"{plan.name}.start")
    if start_utc is None:
        raise BadValue("missing_date", f"{plan.name}.start is empty")
    start = text(record.get("start"))
    title = plan.extra.get("title", "{type_name} — {start_local}").format(
        type_name=type_name, start_local=start[:16], start_date=start[:10])
    title = check_length(title, run.limits.get("title", 255), f"{plan.name}.title")
    fee = money(values.get("value"), f"{plan.name}.fee") if "value" in values else None
    deal_status = rule.get("status", "open")
    won_time = lost_time = None
    if deal_status == "won":
        won_time = run.clock.iso_utc(values.get("won_time"), f"{plan.name}.end") or start_utc
    elif deal_status == "lost":
        lost_time = run.clock.iso_utc(values.get("lost_time"), f"{plan.name}.cancelDate") or start_utc
    pipeline = type_name if "pipeline" in values else DEFAULT_PIPELINE
    run.add_pipeline(pipeline)
    practitioner_id = values.get("owner")
    deal = {
        "source_id": sid,
        "title": title,
        "value": fee if fee is not None else 0.0,
        "currency": run.currency,
        "pipeline": pipeline,
        "stage": rule.get("stage") if "stage" in values else None,
        "status": deal_status,
        "lost_reason": rule.get("lost_reason") if deal_status == "lost" else None,
        # The clinic's calendar date (start was validated above).
        "expected_close_date": start[:10] if "expected_close_date" in values else None,
        "close_time": won_time or lost_time,
        "won_time": won_time,
        "lost_time": lost_time,
        "person_source_id": f"patients:{person}",
        "org_source_id": org_source_id(run, values.get("org_source_id")),
        **owner(run, practitioner_id),
        "custom_fields": {"practicehub_id": sid, **custom_values(
            run, "deals", run.custom_rules[plan.name], _TypeNamed(record, type_name), plan.name)},
    }
    items = [("deals", deal)]
    note = _appointment_note(run, plan, record, values, fee, type_name, deal)
    if note:
        items.append(("notes", note))
    run.reference.appointments[str(record["id"])] = [person, practitioner_id]
    run.reference.dirty = True
    return items


def _appointment_note(run: Transformer, plan: StreamPlan, record: dict, values: dict, fee: float | None,
                      type_name: str, deal: dict) -> dict | None:
    """The appointment's free-text note, and a line saying why the value is 0 when there is no fee."""
    parts = []
    if fee is None and "value" in values:
        parts.append(f"<p>No fee recorded in PracticeHub (appointment type: {escape(type_name)}).</p>")
    note_text = text(values.get("note")) if "note" in values else None
    if note_text:
        parts.append(f"<p>{escape(note_text)}</p>")
    if not parts:
        return None
    content = check_length("".join(parts), run.limits.get("note_content", 100000), f"{plan.name}.note")
    return {
        "source_id": deal["source_id"],
        "content": content,
        "add_time": run.clock.note_time(record.get("created"), f"{plan.name}.created"),
        "pinned": False,
        "deal_source_id": deal["source_id"],
        "person_source_id": deal["person_source_id"],
        "org_source_id": None,
        "owner_email": deal["owner_email"], "owner_name": deal["owner_name"],
        "owner_source_id": deal["owner_source_id"],
        "custom_fields": {"practicehub_id": deal["source_id"]},
    }
