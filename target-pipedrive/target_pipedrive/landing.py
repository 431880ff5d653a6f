"""Since it landed: did someone change a migrated record in Pipedrive after our last write to it?

The ledger keeps Pipedrive's `update_time` as our last write left it (`landed_update_time`); a later one
in Pipedrive now means a person (or an automation) changed the record since. Ledgers written before
that column existed fall back to our own clock at the write (to the second: Pipedrive's times have no
fractions). The ledger's `team` lists the fields a delta found changed in Pipedrive and left as the team
set them: those stay "changed in Pipedrive" even after a later write of ours to other fields.

A difference between what the migration sent and what Pipedrive holds is then one of:
- `changed_in_pipedrive`: changed after landing; reported, not a failure (the team works in Pipedrive);
- `landed_wrong`: the record was not touched since our write, yet holds something else: a failure.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

CHANGED_IN_PIPEDRIVE = "changed_in_pipedrive"
LANDED_WRONG = "landed_wrong"


def instant(value: Any) -> float | None:
    """Seconds since the epoch of a Pipedrive time: v2 RFC 3339 or v1 `YYYY-MM-DD HH:MM:SS` (UTC)."""
    if not value or not isinstance(value, str):
        return None
    try:
        parsed = dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    return parsed.timestamp()


def changed_since_landing(row: dict, actual: dict | None) -> bool:
    """`row` is the ledger row (`landed_update_time`, `updated_at`), `actual` the record as Pipedrive has it now."""
    now = instant((actual or {}).get("update_time"))
    if now is None:
        return False
    landed = instant(row.get("landed_update_time"))
    if landed is not None:
        return now > landed
    written = row.get("updated_at")
    return written is not None and now > math.floor(float(written))


def classify(row: dict, actual: dict | None, field: str) -> str:
    """How to read a difference in `field` ("name", "custom_fields.<key>") of a landed record."""
    if field in (row.get("team") or {}) or changed_since_landing(row, actual):
        return CHANGED_IN_PIPEDRIVE
    return LANDED_WRONG
