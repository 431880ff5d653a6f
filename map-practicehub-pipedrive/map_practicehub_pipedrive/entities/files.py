"""PracticeHub file records → Pipedrive files on the deal of their appointment or note (or the person);
Patient Library assets → one file on each person the asset is assigned to."""

from __future__ import annotations

import typing as t

from map_practicehub_pipedrive.convert import BadValue, integer, text
from map_practicehub_pipedrive.degrade import safe_file_name
from map_practicehub_pipedrive.entities.common import NO_OWNER, check_parent, deal_of, source_id, survivor

if t.TYPE_CHECKING:
    from map_practicehub_pipedrive.entities.context import RunContext
    from map_practicehub_pipedrive.mapping import StreamPlan

READS = frozenset({"patient_id", "file_name", "local_path", "download_error", "entity_type", "entity_id",
                   "mime_type", "downloaded_size", "size", "sha256", "patient_ids"})
LIBRARY_STREAM = "patient_library"


def build(run: RunContext, plan: StreamPlan, record: dict) -> list[tuple[str, dict]]:
    if plan.name == LIBRARY_STREAM:
        return library_asset(run, plan, record)
    sid = source_id(plan.name, record)
    person = survivor(run, record.get("patient_id"), plan.name)
    file_name, local_path = _name_and_copy(run, plan, record)
    deal = None
    kind, entity_id = text(record.get("entity_type")), record.get("entity_id")
    if kind == "appointment":
        deal = deal_of(run, plan, entity_id)
    elif kind == "clinical_note":
        if run.skipped_parents:
            check_parent(run, plan, f"clinical_notes:{entity_id}")
        note = run.reference.clinical_notes.get(str(entity_id))
        if note and note[0]:
            deal = deal_of(run, plan, note[0])
    attachment = {
        "source_id": sid,
        "file_name": file_name,
        "mime_type": text(record.get("mime_type")),
        "size": _size(run, plan, record),
        "sha256": text(record.get("sha256")),
        "local_path": local_path,
        "deal_source_id": deal,
        "person_source_id": f"patients:{person}",
        "org_source_id": None,
        **NO_OWNER,
        "custom_fields": {"practicehub_id": sid},
    }
    return [("files", attachment)]


def library_asset(run: RunContext, plan: StreamPlan, record: dict) -> list[tuple[str, dict]]:
    """One file per assigned person (a Pipedrive file hangs on one person): `patient_library:<id>#patients:<p>`.

    An assignment to a patient who was not migrated drops that assignment only; with none left the asset is
    skipped for the reason of the last one (an asset shared with nobody: `not_assigned`).
    """
    sid = source_id(plan.name, record)
    assigned = record.get("patient_ids")
    if assigned is not None and not isinstance(assigned, list):
        run.degraded.note(f"{plan.name}.patient_ids", "invalid_patient_ids", "dropped")
        assigned = None
    persons: list[str] = []
    last_problem = BadValue("not_assigned", f"{plan.name} is assigned to no patient: no person to attach it to")
    for patient_id in assigned or []:
        try:
            person = survivor(run, patient_id, plan.name)
        except BadValue as problem:
            run.degraded.note(f"{plan.name}.patient_ids", problem.reason, "dropped")  # that assignment only
            last_problem = problem
            continue
        if person not in persons:  # two assigned patients merged into one person: one file
            persons.append(person)
    if not persons:
        raise last_problem
    file_name, local_path = _name_and_copy(run, plan, record)
    size, sha256 = _size(run, plan, record), text(record.get("sha256"))
    uploads = []
    for person in persons:
        upload_id = f"{sid}#patients:{person}"
        uploads.append(("files", {
            "source_id": upload_id, "file_name": file_name, "mime_type": text(record.get("mime_type")),
            "size": size, "sha256": sha256, "local_path": local_path, "deal_source_id": None,
            "person_source_id": f"patients:{person}", "org_source_id": None, **NO_OWNER,
            "custom_fields": {"practicehub_id": upload_id},
        }))
    return uploads


def _name_and_copy(run: RunContext, plan: StreamPlan, record: dict) -> tuple[str, str]:
    """A safe file name (degraded when generated) and the local copy the tap saved (else the record is skipped)."""
    file_name, problem = safe_file_name(text(record.get("file_name")), record.get("id"), text(record.get("mime_type")))
    if problem:
        run.degraded.note(f"{plan.name}.file_name", problem, "generated", text(record.get("file_name")))
    local_path = text(record.get("local_path"))
    if not local_path:
        # The target uploads bytes the tap saved; the tap's download_error is a short cause, no PHI.
        cause = text(record.get("download_error")) or "the tap did not download it (download_files off?)"
        raise BadValue("file_not_downloaded", f"{plan.name} has no local copy: {cause[:200]}")
    return file_name, local_path


def _size(run: RunContext, plan: StreamPlan, record: dict) -> int | None:
    raw = record.get("downloaded_size", record.get("size"))
    try:
        return integer(raw, f"{plan.name}.size")
    except BadValue as problem:
        return run.value_problem(problem, f"{plan.name}.size", raw)  # the target measures the bytes itself
