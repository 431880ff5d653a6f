"""The delta and the team's edits in Pipedrive: what to write, what to leave as the team set it, and conflicts.

The delta only sends the fields the source changed since the last write (`delta.diff`). For each, the
record as Pipedrive holds it now (read in batches just before) says whether the team changed it too:
the record changed since landing (`landing.changed_since_landing`) or the field is already the team's,
and Pipedrive's value is not what we wrote last. Then:

- the team did not change it: the source's value is written;
- Pipedrive already holds the source's new value: nothing to write;
- both changed it, a conflict, settled by `on_conflict`:
  `report` (default): Pipedrive's value stays and the conflict is listed on every delta until decided
  (the ledger keeps the source's previous value, so the next delta sees the change again);
  `source_wins`: the source's value is written; `pipedrive_wins`: Pipedrive's value stays, settled.

Fields the source did not change are never written, whatever the team did to them; those the team changed
are named in the ledger's `team` when the delta writes the record (its `update_time` is ours again then),
so that verify still reads them as changed in Pipedrive, not as landed wrong.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from target_pipedrive.api_shapes import is_empty
from target_pipedrive.verify import field_diffs

POLICIES = ("report", "source_wins", "pipedrive_wins")
RESOLUTIONS = {
    "report": "Pipedrive's value kept, to decide (on_conflict: source_wins or pipedrive_wins)",
    "source_wins": "the source's value written over the team's",
    "pipedrive_wins": "Pipedrive's value kept",
}
# Values Pipedrive fills in itself where the migration sent nothing: not an edit by the team.
PIPEDRIVE_DEFAULTS = {("deals", "value"): 0, ("deals", "status"): "open", ("activities", "done"): False}


@dataclass
class Resolution:
    patch: dict
    team: dict  # field -> Pipedrive's value, for the fields the team owns after this delta
    conflicts: list[dict] = field(default_factory=list)  # with values: for the private conflicts file
    unresolved: list[str] = field(default_factory=list)  # fields left for a decision (`report`)


def flat(body: dict) -> dict[str, Any]:
    """{"name": ..., "custom_fields": {"abc": 1}} -> {"name": ..., "custom_fields.abc": 1}."""
    out = {k: v for k, v in body.items() if k != "custom_fields"}
    out.update({f"custom_fields.{code}": v for code, v in (body.get("custom_fields") or {}).items()})
    return out


def value_of(body: dict, name: str) -> Any:
    if name.startswith("custom_fields."):
        return (body.get("custom_fields") or {}).get(name.split(".", 1)[1])
    return body.get(name)


def put(body: dict, name: str, value: Any) -> None:
    if name.startswith("custom_fields."):
        body.setdefault("custom_fields", {})[name.split(".", 1)[1]] = value
    else:
        body[name] = value


def drop(body: dict, name: str) -> None:
    if name.startswith("custom_fields."):
        custom = body.get("custom_fields") or {}
        custom.pop(name.split(".", 1)[1], None)
        if not custom:
            body.pop("custom_fields", None)
    else:
        body.pop(name, None)


def holds(stream: str, name: str, value: Any, current: dict) -> bool:
    """Pipedrive holds `value` (as sent) under `name`, in the verify's tolerant terms."""
    sent: dict = {}
    put(sent, name, value)
    return not field_diffs(stream, {"source_id": "", "pipedrive_id": current.get("id"), "sent": sent}, current)


def team_changed(stream: str, name: str, before: Any, current: dict, record_changed: bool, team: dict) -> bool:
    if not (record_changed or name in team):
        return False
    if before is None and (stream, name) in PIPEDRIVE_DEFAULTS:
        now = value_of(current, name)
        if is_empty(now) or now == PIPEDRIVE_DEFAULTS[(stream, name)]:
            return False
    return not holds(stream, name, before, current)


def resolve(stream: str, previous: dict, patch: dict, current: dict, team: dict, record_changed: bool,
            policy: str) -> Resolution:
    """The patch to send, given what we sent last (`previous`), the source's changes (`patch`) and Pipedrive now."""
    out: dict = {}
    owned = dict(team)
    result = Resolution(out, owned)
    for name, new in flat(patch).items():
        before = value_of(previous, name)
        if not team_changed(stream, name, before, current, record_changed, owned):
            put(out, name, new)
            owned.pop(name, None)
            continue
        if holds(stream, name, new, current):
            owned.pop(name, None)  # the team already set what the source now says
            continue
        theirs = value_of(current, name)
        result.conflicts.append({"field": name, "policy": policy, "resolution": RESOLUTIONS[policy],
                                 "sent_before": before, "source": new, "pipedrive": theirs})
        if policy == "source_wins":
            put(out, name, new)
            owned.pop(name, None)
            continue
        owned[name] = copy.deepcopy(theirs)
        if policy == "report":
            result.unresolved.append(name)
    if record_changed:
        # The team's other edits on this record: ours is about to become its latest write, so they are named here.
        changing = set(flat(patch))
        for name, before in flat(previous).items():
            if name not in changing and not holds(stream, name, before, current):
                owned[name] = copy.deepcopy(value_of(current, name))
    return result


def as_sent(sent: dict, previous: dict, unresolved: list[str]) -> dict:
    """What the ledger keeps as sent: the source's values, but the previous one for an undecided conflict."""
    if not unresolved:
        return sent
    stored = copy.deepcopy(sent)
    for name in unresolved:
        before = value_of(previous, name)
        if before is None:
            drop(stored, name)
        else:
            put(stored, name, copy.deepcopy(before))
    return stored
