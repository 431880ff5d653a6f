"""Values kept as entered in PracticeHub: the texts that could not land in their fields, on the record itself.

Persons, organizations and deals get one note ("<source id>#as-entered") attached to them; activities
and notes carry the texts at the end of their own note or content.
"""

from __future__ import annotations

import typing as t

from map_practicehub_pipedrive.convert import BadValue
from map_practicehub_pipedrive.entities.common import NO_OWNER, escape

if t.TYPE_CHECKING:
    from map_practicehub_pipedrive.degrade import Degradations
    from map_practicehub_pipedrive.entities.context import RunContext
    from map_practicehub_pipedrive.mapping import StreamPlan

AS_ENTERED = "#as-entered"
HEADING = "<p><strong>Kept as entered in PracticeHub</strong> (could not be stored in its Pipedrive field)</p>"


def as_html(kept: list[tuple[str, str]]) -> str:
    return HEADING + "<ul>" + "".join(f"<li>{escape(where)}: {escape(value)}</li>" for where, value in kept) + "</ul>"


def notes(run: RunContext, plan: StreamPlan, record: dict, items: list, degraded: Degradations) -> list:
    """Extra entities carrying the kept texts (or none: they went into the entity's own text)."""
    if not items:
        if plan.name != "patients":
            return []
        # A patient folded into one sent earlier: the texts go on that person (if it landed in this run's view).
        survivor = run.dedupe.survivor_of(str(record.get("id")))
        if survivor is None or f"patients:{survivor}" in run.skipped_parents:
            return []
        items = [("persons", {"source_id": f"patients:{survivor}"})]
    out_stream, entity = items[0]
    text = as_html(degraded.kept)
    if out_stream == "activities":
        entity["note"] = f"{entity.get('note') or ''}{text}"
        return []
    if out_stream == "notes":
        entity["content"] = f"{entity.get('content') or ''}{text}"
        return []
    attach = {"deal_source_id": None, "person_source_id": None, "org_source_id": None}
    if out_stream == "persons":
        attach["person_source_id"] = entity["source_id"]
    elif out_stream == "organizations":
        attach["org_source_id"] = entity["source_id"]
    elif out_stream == "deals":
        attach["deal_source_id"], attach["person_source_id"] = entity["source_id"], entity["person_source_id"]
    else:  # files: on the file's deal or person
        attach["deal_source_id"], attach["person_source_id"] = entity["deal_source_id"], entity["person_source_id"]
    try:
        add_time = run.clock.note_time(record.get("created"), f"{plan.name}.created")
    except BadValue:
        add_time = None
    source_id = f"{degraded.source_id}{AS_ENTERED}"
    note = {"source_id": source_id, "content": text, "add_time": add_time, "pinned": False, **attach, **NO_OWNER,
            "custom_fields": {"practicehub_id": source_id}}
    return [("notes", note)]
