"""PracticeHub file records → Pipedrive files on the deal of their appointment or note (or the person)."""

from __future__ import annotations

import typing as t

from practicehub_pipedrive.convert import BadValue, integer, text
from practicehub_pipedrive.degrade import safe_file_name
from practicehub_pipedrive.entities.common import NO_OWNER, check_parent, deal_of, source_id, survivor

if t.TYPE_CHECKING:
    from practicehub_pipedrive.mapping import StreamPlan
    from practicehub_pipedrive.transformer import Transformer

READS = frozenset({"patient_id", "file_name", "local_path", "download_error", "entity_type", "entity_id",
                   "mime_type", "downloaded_size", "size", "sha256"})


def build(run: Transformer, plan: StreamPlan, record: dict) -> list[tuple[str, dict]]:
    sid = source_id(plan.name, record)
    person = survivor(run, record.get("patient_id"), plan.name)
    file_name, problem = safe_file_name(text(record.get("file_name")), record.get("id"), text(record.get("mime_type")))
    if problem:
        run.degraded.note(f"{plan.name}.file_name", problem, "generated", text(record.get("file_name")))
    local_path = text(record.get("local_path"))
    if not local_path:
        # The target uploads bytes the tap saved; the tap's download_error is a short cause, no PHI.
        cause = text(record.get("download_error")) or "the tap did not download it (download_files off?)"
        raise BadValue("file_not_downloaded", f"{plan.name} has no local copy: {cause[:200]}")
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


def _size(run: Transformer, plan: StreamPlan, record: dict) -> int | None:
    raw = record.get("downloaded_size", record.get("size"))
    try:
        return integer(raw, f"{plan.name}.size")
    except BadValue as problem:
        return run.value_problem(problem, f"{plan.name}.size", raw)  # the target measures the bytes itself
