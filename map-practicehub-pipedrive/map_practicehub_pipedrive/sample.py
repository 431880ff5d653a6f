"""Sample mode: a deterministic slice of N appointments covering every appointment type and status,
with the patients, clinics, notes, files, reminders and invoices they need (no dangling references)."""

from __future__ import annotations

# Streams kept whole: small reference data every slice needs.
WHOLE = {"locations", "patient_custom_fields", "users", "practitioners", "appointment_types",
         "payment_methods", "workflows"}
BY_APPOINTMENT = {"clinical_notes", "reminders", "invoices"}
BY_PATIENT = {"patient_packages", "care_plans", "custom_form_responses", "patient_logs"}


def _key(value: object) -> str:
    return str(value).strip() if value is not None else ""


def select(records: list[tuple[str, dict]], size: int) -> list[bool]:
    """Which buffered records (in arrival order) belong to the sample."""
    appointments = sorted(
        ((index, record) for index, (stream, record) in enumerate(records) if stream == "appointments"),
        key=lambda item: (_sort_id(item[1]), item[0]))
    chosen: dict[int, dict] = {}
    covered: set[tuple[str, str]] = set()
    for index, record in appointments:  # one of every (type, status) first
        combination = (_key(record.get("appointment_type_id")), _key(record.get("status")))
        if combination not in covered:
            covered.add(combination)
            chosen[index] = record
    remaining = [item for item in appointments if item[0] not in chosen]
    room = max(0, size - len(chosen))
    if remaining and room:
        step = max(1, len(remaining) // room)
        for index, record in remaining[::step][:room]:
            chosen[index] = record
    appointment_ids = {_key(record.get("id")) for record in chosen.values()}
    patient_ids = {_key(record.get("patient_id")) for record in chosen.values()}
    patient_ids |= _merge_partners(records, patient_ids)
    keep = [False] * len(records)
    note_ids, invoice_ids = set(), set()
    for index, (stream, record) in enumerate(records):
        if stream in WHOLE or index in chosen:
            keep[index] = True
        elif stream == "patients":
            keep[index] = _key(record.get("id")) in patient_ids
        elif stream in BY_APPOINTMENT:
            linked = _key(record.get("appointment_id"))
            keep[index] = linked in appointment_ids or (
                not linked and stream == "clinical_notes" and _key(record.get("patient_id")) in patient_ids)
            if keep[index] and stream == "clinical_notes":
                note_ids.add(_key(record.get("id")))
            if keep[index] and stream == "invoices":
                invoice_ids.add(_key(record.get("id")))
        elif stream in BY_PATIENT:
            keep[index] = _key(record.get("patient_id")) in patient_ids
    for index, (stream, record) in enumerate(records):  # second pass: records that hang off the first
        if stream == "files":
            kind, entity = _key(record.get("entity_type")), _key(record.get("entity_id"))
            keep[index] = (kind == "appointment" and entity in appointment_ids) or (
                kind == "clinical_note" and entity in note_ids) or (
                kind == "patient" and _key(record.get("patient_id")) in patient_ids)
        elif stream == "payments":
            keep[index] = _key(record.get("invoice_id")) in invoice_ids
    return keep


def _merge_partners(records: list[tuple[str, dict]], patient_ids: set[str]) -> set[str]:
    """Patients sharing an email with a sampled one: de-duplication must see them together in the sample as it
    will in the full run, or the sample lands as a person someone the full run folds into another."""
    by_email: dict[str, set[str]] = {}
    for stream, record in records:
        if stream == "patients" and isinstance(record.get("email"), str) and record["email"].strip():
            by_email.setdefault("".join(record["email"].split()).lower(), set()).add(_key(record.get("id")))
    partners: set[str] = set()
    for group in by_email.values():
        if len(group) > 1 and group & patient_ids:
            partners |= group
    return partners


def _sort_id(record: dict) -> tuple[int, str]:
    value = _key(record.get("id"))
    return (int(value), "") if value.isdigit() else (1 << 62, value)
