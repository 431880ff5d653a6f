"""Notes from clinical notes, invoices, payments, packages, care plans, form responses and prescriptions.

A note goes on the deal of its appointment when that deal exists, and always names the person.
"""

from __future__ import annotations

import typing as t

from map_practicehub_pipedrive.convert import BadValue, text
from map_practicehub_pipedrive.entities.common import (
    check_parent,
    deal_of,
    escape,
    note_time,
    owner,
    source_id,
    survivor,
)

if t.TYPE_CHECKING:
    from map_practicehub_pipedrive.entities.context import RunContext
    from map_practicehub_pipedrive.mapping import StreamPlan

READS = frozenset({"patient_id", "appointment_id", "practitioner_id", "created", "data", "type", "state",
                   "number", "status", "total", "invoice_id", "amount", "payment_type_id", "service", "note",
                   "name", "sessions_used", "sessions_total", "price", "expires", "goals", "start_date",
                   "end_date", "answers", "completed", "form_name", "medication", "quantity", "directions",
                   "pharmacy_name", "pharmacy_order_reference", "pharmacy_status", "prescribed_on", "dispensed_at"})


def _note(run: RunContext, plan: StreamPlan, record: dict, content: str, person: str,
          deal_source_id: str | None, practitioner_id: object = None) -> list[tuple[str, dict]]:
    sid = source_id(plan.name, record)
    note = {
        "source_id": sid,
        "content": content,  # over Pipedrive's limit: the transformer splits it into consecutive notes
        "add_time": note_time(run, record.get("created"), f"{plan.name}.created"),
        "pinned": False,
        "deal_source_id": deal_source_id,
        "person_source_id": f"patients:{person}",
        "org_source_id": None,
        **owner(run, practitioner_id),
        "custom_fields": {"practicehub_id": sid},
    }
    return [("notes", note)]


def clinical_note(run: RunContext, plan: StreamPlan, record: dict) -> list[tuple[str, dict]]:
    person = survivor(run, record.get("patient_id"), plan.name)
    deal = deal_of(run, plan, record.get("appointment_id"))
    data = record.get("data") or {}
    soap = data.get("soap_data") if isinstance(data, dict) else None
    parts = [f"<h3>{escape(record.get('type') or 'Clinical note')} ({escape(record.get('state') or 'unknown')})</h3>"]
    if soap is not None and not isinstance(soap, list) or data and not isinstance(data, dict):
        # Not the SOAP layout: the text still lands, as plain text under the heading.
        run.degraded.note(f"{plan.name}.data", "invalid_note_data", "fallback")
        parts.append(f"<p>{escape(soap if isinstance(data, dict) else data)}</p>")
        soap = None
    for item in soap or []:
        if isinstance(item, dict):
            # Values are HTML already; Pipedrive sanitises note content on its side.
            parts.append(f"<h4>{escape(item.get('key'))}</h4>{item.get('val') or ''}")
    run.reference.clinical_notes[str(record.get("id"))] = [
        str(record["appointment_id"]) if deal else None, person]
    run.reference.dirty = True
    return _note(run, plan, record, "".join(parts), person, deal, record.get("practitioner_id"))


def invoice(run: RunContext, plan: StreamPlan, record: dict) -> list[tuple[str, dict]]:
    person = survivor(run, record.get("patient_id"), plan.name)
    deal = deal_of(run, plan, record.get("appointment_id"))
    content = (f"<p>Invoice {escape(record.get('number'))}: {escape(record.get('status'))}, total "
               f"{escape(record.get('total'))} {escape(run.currency)}</p>")
    run.reference.invoices[str(record.get("id"))] = [str(record["appointment_id"]) if deal else None, person]
    run.reference.dirty = True
    return _note(run, plan, record, content, person, deal)


def payment(run: RunContext, plan: StreamPlan, record: dict) -> list[tuple[str, dict]]:
    person = survivor(run, text(record.get("patient_id")), plan.name)
    invoice_id = record.get("invoice_id")
    if run.skipped_parents and invoice_id is not None:
        check_parent(run, plan, f"invoices:{invoice_id}")
    invoice_link = run.reference.invoices.get(str(invoice_id))
    deal = deal_of(run, plan, invoice_link[0]) if invoice_link and invoice_link[0] else None
    content = (f"<p>Payment of {escape(record.get('amount'))} {escape(run.currency)} "
               f"(payment type {escape(record.get('payment_type_id'))}) for {escape(record.get('service'))}</p>")
    if text(record.get("note")):
        content += f"<p>{escape(record.get('note'))}</p>"
    return _note(run, plan, record, content, person, deal)


def patient_package(run: RunContext, plan: StreamPlan, record: dict) -> list[tuple[str, dict]]:
    person = survivor(run, record.get("patient_id"), plan.name)
    content = (f"<p>Package {escape(record.get('name'))}: {escape(record.get('sessions_used'))} of "
               f"{escape(record.get('sessions_total'))} sessions used, price {escape(record.get('price'))} "
               f"{escape(run.currency)}, expires {escape(record.get('expires') or 'never')}</p>")
    return _note(run, plan, record, content, person, None)


def care_plan(run: RunContext, plan: StreamPlan, record: dict) -> list[tuple[str, dict]]:
    person = survivor(run, record.get("patient_id"), plan.name)
    content = (f"<h3>Care plan: {escape(record.get('name'))} ({escape(record.get('status'))})</h3>"
               f"<p>{escape(record.get('start_date'))} to {escape(record.get('end_date') or 'open')}</p>"
               f"<p>Goals: {escape(record.get('goals'))}</p>")
    return _note(run, plan, record, content, person, None, record.get("practitioner_id"))


def form_response(run: RunContext, plan: StreamPlan, record: dict) -> list[tuple[str, dict]]:
    person = survivor(run, record.get("patient_id"), plan.name)
    answers = record.get("answers") or []
    done = "completed" if str(record.get("completed")) in ("1", "True", "true") else "not completed"
    parts = [f"<h3>{escape(record.get('form_name'))} ({done})</h3>"]
    if not isinstance(answers, list):
        run.degraded.note(f"{plan.name}.answers", "invalid_answers", "fallback")
        parts.append(f"<p>{escape(answers)}</p>")
        answers = []
    for item in answers:
        if isinstance(item, dict):
            parts.append(f"<p><strong>{escape(item.get('question'))}</strong><br>{escape(item.get('answer'))}</p>")
    return _note(run, plan, record, "".join(parts), person, None)


def prescription(run: RunContext, plan: StreamPlan, record: dict) -> list[tuple[str, dict]]:
    """The prescription, and the outside pharmacy's name, order reference and status in plain words: the
    pharmacy integration does not move to Pipedrive, so its reference must stay readable on the patient."""
    person = survivor(run, record.get("patient_id"), plan.name)
    deal = deal_of(run, plan, record.get("appointment_id"))
    medication = text(record.get("medication"))
    if medication is None:
        run.degraded.note(f"{plan.name}.medication", "missing_value", "fallback")
    parts = [f"<h3>Prescription: {escape(medication or 'item not named')} "
             f"({escape(record.get('status') or 'status unknown')})</h3>"]
    if record.get("quantity") is not None:
        parts.append(f"<p>Quantity: {escape(record.get('quantity'))}</p>")
    if text(record.get("directions")):
        parts.append(f"<p>Directions: {escape(record.get('directions'))}</p>")
    dates = f"Prescribed on {escape(record.get('prescribed_on') or 'an unknown date')}"
    if text(record.get("dispensed_at")):
        try:
            dispensed = run.clock.note_time(record.get("dispensed_at"), f"{plan.name}.dispensed_at")
        except BadValue as problem:  # kept as entered, at the end of the note
            dispensed = run.value_problem(problem, f"{plan.name}.dispensed_at", record.get("dispensed_at"))
        if dispensed:
            dates += f"; dispensed {escape(dispensed)} UTC"
    parts.append(f"<p>{dates}</p>")
    reference = text(record.get("pharmacy_order_reference"))
    if reference or text(record.get("pharmacy_name")):
        parts.append(f"<p>External pharmacy: {escape(record.get('pharmacy_name') or 'not named')}; order reference "
                     f"{escape(reference or 'none')}; pharmacy status "
                     f"{escape(record.get('pharmacy_status') or 'unknown')}</p>")
    else:
        parts.append("<p>Not sent to an external pharmacy.</p>")
    return _note(run, plan, record, "".join(parts), person, deal, record.get("practitioner_id"))


BY_STREAM = {
    "clinical_notes": clinical_note,
    "invoices": invoice,
    "payments": payment,
    "patient_packages": patient_package,
    "care_plans": care_plan,
    "custom_form_responses": form_response,
    "prescriptions": prescription,
}


def build(run: RunContext, plan: StreamPlan, record: dict) -> list[tuple[str, dict]]:
    renderer = BY_STREAM.get(plan.name)
    if renderer is None:
        raise BadValue("no_note_renderer", f"no note layout is known for stream {plan.name}")
    return renderer(run, plan, record)
