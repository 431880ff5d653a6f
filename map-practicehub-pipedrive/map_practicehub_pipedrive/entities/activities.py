"""PracticeHub reminders → Pipedrive task activities on the appointment's deal."""

from __future__ import annotations

import typing as t

from map_practicehub_pipedrive.convert import BadValue, text
from map_practicehub_pipedrive.entities.common import NO_OWNER, check_parent, owner, source_id, survivor

if t.TYPE_CHECKING:
    from map_practicehub_pipedrive.entities.context import RunContext
    from map_practicehub_pipedrive.mapping import StreamPlan

READS = frozenset({"appointment_id", "patient_id", "type", "status", "send_at", "channel"})


def build(run: RunContext, plan: StreamPlan, record: dict) -> list[tuple[str, dict]]:
    sid = source_id(plan.name, record)
    appointment_id = record.get("appointment_id")
    appointment = run.reference.appointments.get(str(appointment_id))
    if appointment is None and run.skipped_parents and appointment_id is not None:
        check_parent(run, plan, f"appointments:{appointment_id}")
    if appointment is not None:
        person, practitioner_id = appointment
        if run.skipped_parents and f"patients:{person}" in run.skipped_parents:
            raise BadValue("parent_skipped", f"{plan.name} refers to patients:{person}, which this run skipped")
        deal_source_id = f"appointments:{record.get('appointment_id')}"
    else:
        person, practitioner_id, deal_source_id = survivor(run, record.get("patient_id"), plan.name), None, None
    kind = text(record.get("type"))
    subject = plan.extra.get("type_map", {}).get(kind)
    if subject is None:
        subject = plan.extra.get("unknown_type_subject") or "PracticeHub reminder"
        run.degraded.note(f"{plan.name}.type", "unknown_type", "fallback", kind)
    status = text(record.get("status"))
    try:
        due = run.clock.instant(record.get("send_at"), f"{plan.name}.send_at")
    except BadValue as problem:
        due = run.value_problem(problem, f"{plan.name}.send_at", record.get("send_at"))
    if due is None and not text(record.get("send_at")):
        run.degraded.note(f"{plan.name}.send_at", "missing_date", "fallback")  # a task without a due date
    channel = text(record.get("channel")) or "unknown channel"
    limit = run.limits.get("subject", 255)
    if len(subject) > limit:
        run.degraded.note(f"{plan.name}.type", "text_too_long", "truncated", subject)
        subject = subject[:limit]
    activity = {
        "source_id": sid,
        "subject": subject,
        "type": "task",
        "due_date": due[:10] if due else None,
        "due_time": due[11:16] if due else None,
        "duration": None,
        "done": status in plan.extra.get("done_statuses", ["actioned"]),
        "note": f"PracticeHub reminder by {channel}, status {status or 'unknown'}.",
        "deal_source_id": deal_source_id,
        "person_source_id": f"patients:{person}",
        "org_source_id": None,
        **(owner(run, practitioner_id) if practitioner_id is not None else NO_OWNER),
        "custom_fields": {"practicehub_id": sid},
    }
    return [("activities", activity)]
