"""PracticeHub locations → Pipedrive organizations.

Pipedrive v2 organizations have no phone or email field: the default mapping sends a clinic's
phone and email to custom fields (`phone`, `email`), described in the SCHEMA like any other.
"""

from __future__ import annotations

import typing as t

from map_practicehub_pipedrive.convert import text
from map_practicehub_pipedrive.entities.common import NO_OWNER, custom_values, source_id

if t.TYPE_CHECKING:
    from map_practicehub_pipedrive.entities.context import RunContext
    from map_practicehub_pipedrive.mapping import StreamPlan

READS: frozenset[str] = frozenset()  # record fields read directly (the rest come through the plan)


def address(values: dict, prefix: str) -> dict | None:
    street = ", ".join(part for part in (text(values.get(f"{prefix}.street")),
                                         text(values.get(f"{prefix}.street2"))) if part) or None
    locality = text(values.get(f"{prefix}.locality"))
    postal_code = text(values.get(f"{prefix}.postal_code"))
    country = text(values.get(f"{prefix}.country"))
    town = " ".join(part for part in (locality, postal_code) if part) or None
    value = ", ".join(part for part in (street, town, country) if part)
    if not value:
        return None
    return {"value": value, "street": street, "locality": locality, "postal_code": postal_code,
            "country": country}


def build(run: RunContext, plan: StreamPlan, record: dict) -> list[tuple[str, dict]]:
    sid = source_id(plan.name, record)
    values = run.standard_values(plan, record)
    name, limit = text(values.get("name")), run.limits.get("name", 255)
    if not name:
        name = f"PracticeHub location {record.get('id')}"  # Pipedrive needs a name; the clinic still lands
        run.degraded.note(f"{plan.name}.name", "missing_name", "generated")
    elif len(name) > limit:
        run.degraded.note(f"{plan.name}.name", "text_too_long", "truncated", name)
        name = name[:limit]
    organization = {
        "source_id": sid,
        "name": name,
        "address": address(values, "address"),
        "website": text(values.get("website")),
        "industry": plan.extra.get("constants", {}).get("industry"),
        **NO_OWNER,
        "custom_fields": {"practicehub_id": sid,
                          **custom_values(run, "organizations", run.custom_rules[plan.name], record, plan.name)},
    }
    run.reference.locations[str(record["id"])] = name
    run.reference.dirty = True
    return [("organizations", organization)]
