"""PracticeHub appointments → Pipedrive deals: one pipeline per appointment type, status → stage."""

from __future__ import annotations

import typing as t

from map_practicehub_pipedrive.convert import BadValue, money, text
from map_practicehub_pipedrive.entities.common import (
    custom_values,
    escape,
    note_time,
    org_source_id,
    owner,
    source_id,
    survivor,
)

if t.TYPE_CHECKING:
    from map_practicehub_pipedrive.entities.context import RunContext
    from map_practicehub_pipedrive.mapping import StreamPlan

READS = frozenset({"patient_id", "appointment_type_id", "status", "start", "created"})

DEFAULT_PIPELINE = "Appointments"
FALLBACK_PIPELINE = "Other appointments"  # appointment types PracticeHub no longer has


class _TypeNamed(dict):
    """The record as custom fields see it: the appointment type's name instead of its id (no copy)."""

    def __init__(self, record: dict, type_name: str) -> None:
        super().__init__()
        self.record, self.type_name = record, type_name

    def get(self, key: str, default: object = None) -> object:
        return self.type_name if key == "appointment_type_id" else self.record.get(key, default)


def build(run: RunContext, plan: StreamPlan, record: dict) -> list[tuple[str, dict]]:
    sid = source_id(plan.name, record)
    values = run.standard_values(plan, record)
    person = survivor(run, record.get("patient_id"), plan.name)
    degraded = run.degraded
    type_id = record.get("appointment_type_id")
    known_type = run.reference.appointment_types.get(str(type_id))
    unknown = plan.extra.get("unknown_type") or {}
    if known_type is None:
        # The type was deleted in PracticeHub (or never sent): the visit still lands, in the fallback pipeline.
        degraded.note(f"{plan.name}.appointment_type_id", "unknown_appointment_type", "fallback",
                      None if type_id is None else f"appointment type {type_id}")
        type_name = None
    else:
        type_name = known_type[0]
    status = text(record.get("status"))
    rule = plan.extra.get("status_map", {}).get(status)
    if rule is None:
        stages = plan.extra.get("stages") or ["Scheduled"]
        rule = {"stage": stages[0], "status": "open"}
        degraded.note(f"{plan.name}.status", "unknown_status", "fallback", status)
    try:
        start_utc = run.clock.iso_utc(record.get("start"), f"{plan.name}.start")
    except BadValue as problem:
        start_utc = run.value_problem(problem, f"{plan.name}.start", record.get("start"))
    start = text(record.get("start")) if start_utc else None
    if start_utc is None and not text(record.get("start")):
        degraded.note(f"{plan.name}.start", "missing_date", "fallback")
    title = plan.extra.get("title", "{type_name} — {start_local}").format(
        type_name=type_name or unknown.get("type_name") or "Appointment",
        start_local=start[:16] if start else "date unknown", start_date=start[:10] if start else "date unknown")
    limit = run.limits.get("title", 255)
    if len(title) > limit:
        degraded.note(f"{plan.name}.title", "text_too_long", "truncated", title)
        title = title[:limit]
    fee = None
    if "value" in values:
        try:
            fee = money(values.get("value"), f"{plan.name}.fee")
        except BadValue as problem:
            fee = run.value_problem(problem, f"{plan.name}.fee", values.get("value"))
    deal_status = rule.get("status", "open")
    won_time = lost_time = None
    if deal_status in ("won", "lost"):
        key, where = ("won_time", "end") if deal_status == "won" else ("lost_time", "cancelDate")
        try:
            closed = run.clock.iso_utc(values.get(key), f"{plan.name}.{where}")
        except BadValue as problem:
            closed = run.value_problem(problem, f"{plan.name}.{where}", values.get(key))
        won_time, lost_time = (closed or start_utc, None) if deal_status == "won" else (None, closed or start_utc)
    if "pipeline" not in values:
        pipeline = DEFAULT_PIPELINE
    else:
        pipeline = type_name or unknown.get("pipeline") or FALLBACK_PIPELINE
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
        "expected_close_date": start[:10] if start and "expected_close_date" in values else None,
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
    note = _appointment_note(run, plan, record, values, fee, type_name or title, deal)
    if note:
        items.append(("notes", note))
    run.reference.appointments[str(record["id"])] = [person, practitioner_id]
    run.reference.dirty = True
    return items


def _appointment_note(run: RunContext, plan: StreamPlan, record: dict, values: dict, fee: float | None,
                      type_name: str, deal: dict) -> dict | None:
    """The appointment's free-text note, and a line saying why the value is 0 when there is no fee."""
    parts = []
    if fee is None and "value" in values and not text(values.get("value")):
        parts.append(f"<p>No fee recorded in PracticeHub (appointment type: {escape(type_name)}).</p>")
    note_text = text(values.get("note")) if "note" in values else None
    if note_text:
        parts.append(f"<p>{escape(note_text)}</p>")
    if not parts:
        return None
    return {
        "source_id": deal["source_id"],
        "content": "".join(parts),
        "add_time": note_time(run, record.get("created"), f"{plan.name}.created"),
        "pinned": False,
        "deal_source_id": deal["source_id"],
        "person_source_id": deal["person_source_id"],
        "org_source_id": None,
        "owner_email": deal["owner_email"], "owner_name": deal["owner_name"],
        "owner_source_id": deal["owner_source_id"],
        "custom_fields": {"practicehub_id": deal["source_id"]},
    }
