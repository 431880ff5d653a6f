"""PracticeHub patients → Pipedrive persons, de-duplicated by identity (dedupe.py)."""

from __future__ import annotations

import typing as t

import orjson

from map_practicehub_pipedrive.convert import BadValue, email, flag, parse_date, text
from map_practicehub_pipedrive.entities.common import Merged, custom_values, org_source_id, source_id
from map_practicehub_pipedrive.entities.organizations import address

if t.TYPE_CHECKING:
    from map_practicehub_pipedrive.entities.context import RunContext
    from map_practicehub_pipedrive.mapping import StreamPlan

READS = frozenset({"custom_fields"})  # record fields read directly (the rest come through the plan)


def _labelled(run: RunContext, values: dict, prefix: str, plan: StreamPlan, check=None) -> list[dict]:
    """`emails`/`phones` items in mapping order; the first is primary. One that fails its check is left out."""
    items = []
    for target, label, where in _targets_with_prefix(plan, prefix):
        raw = values.get(target)
        if raw is None:
            continue
        try:
            value = check(raw, where) if check else text(raw)
        except BadValue as problem:
            value = run.value_problem(problem, where, raw, _rule_for(plan, target))
        if value and all(item["value"] != value for item in items):
            items.append({"value": value, "primary": not items, "label": label})
    return items


def _rule_for(plan: StreamPlan, target: str):
    return next((rule for rule in plan.fields if rule.target == target), None)


def _targets_with_prefix(plan: StreamPlan, prefix: str) -> list[tuple[str, str, str]]:
    cached = plan.extra.setdefault("_by_prefix", {})
    if prefix not in cached:
        cached[prefix] = [(target, target[len(prefix):], f"{plan.name}.{source}")
                          for target, source in plan.targets().items() if target.startswith(prefix)]
    return cached[prefix]


def build(run: RunContext, plan: StreamPlan, record: dict) -> list[tuple[str, dict]]:
    sid = source_id(plan.name, record)
    values = run.standard_values(plan, record)
    if "skip_record_when_true" in values and flag(values["skip_record_when_true"]):
        raise BadValue("deleted_in_source", "patient is marked deleted in PracticeHub")
    first, last = text(values.get("first_name")), text(values.get("last_name"))
    limit = run.limits.get("name", 255)
    if not first and not last:
        # Pipedrive needs a name; the patient still lands, findable by its PracticeHub id.
        name = f"PracticeHub patient {record.get('id')}"
        run.degraded.note(f"{plan.name}.name", "missing_name", "generated")
    else:
        name = " ".join(part for part in (first, last) if part)
    if len(name) > limit:
        run.degraded.note(f"{plan.name}.name", "text_too_long", "truncated", name)
        name = name[:limit]
        first, last = (first or "")[:limit] or None, (last or "")[:limit] or None
    emails = _labelled(run, values, "emails.", plan, email)
    try:
        birthday = parse_date(values.get("birthday"), f"{plan.name}.dob", run.date_order)
    except BadValue as problem:
        birthday = run.value_problem(problem, f"{plan.name}.dob", values.get("birthday"), _rule_for(plan, "birthday"))
    person = {
        "source_id": sid,
        "name": name,
        "first_name": first,
        "last_name": last,
        "emails": emails,
        "phones": _labelled(run, values, "phones.", plan),
        "postal_address": address(values, "postal_address"),
        "birthday": birthday,
        "org_source_id": org_source_id(run, values.get("org_source_id")),
        "owner_email": None, "owner_name": None, "owner_source_id": None,
        "merged_source_ids": [],
        "custom_fields": {"practicehub_id": sid,
                          **custom_values(run, "persons", run.custom_rules[plan.name], record, plan.name),
                          **_patient_custom_fields(run, plan, record)},
    }
    patient_id = str(record["id"])
    # The identity compares the patient's own name: a generated one would only ever match itself.
    survivor = run.dedupe.resolve(patient_id, emails[0]["value"] if emails else None,
                                  " ".join(part for part in (first, last) if part) or None,
                                  run.dedupe.date_of_birth(plan.name, record, run.date_order))
    if survivor != patient_id:
        # The survivor, already sent, is sent again listing this patient among its merged ids.
        earlier = run.persons_sent.get(survivor)
        if earlier is None:
            return Merged()
        again = orjson.loads(earlier)
        again["merged_source_ids"] = run.dedupe.merged_source_ids(survivor)
        run.persons_sent[survivor] = orjson.dumps(again).decode()
        return Merged([("persons", again)])
    person["merged_source_ids"] = run.dedupe.merged_source_ids(patient_id)
    if emails:
        run.persons_sent[patient_id] = orjson.dumps(person).decode()  # exact-size str: orjson bytes carry slack
    return [("persons", person)]


def _patient_custom_fields(run: RunContext, plan: StreamPlan, record: dict) -> dict:
    items = record.get("custom_fields") or []
    if not isinstance(items, list):
        # Neither names nor PHI marks can be read from it: nothing of it may land (PHI is fail-safe).
        run.degraded.note(f"{plan.name}.custom_fields", "invalid_custom_fields", "dropped")
        return {}
    by_name = {}
    known = run.list_sources[plan.name]
    for item in items:
        if isinstance(item, dict) and item.get("name"):
            name = str(item["name"])
            by_name[name] = item.get("value")
            if name not in known:
                run.reconciliation.unmapped_field(plan.name, f"custom_fields.{name}")
    return custom_values(run, "persons", run.list_rules[plan.name], by_name, plan.name)
