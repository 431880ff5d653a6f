"""The run's token plan against Pipedrive's daily budget, made before the first record write."""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Mapping
from pathlib import Path

from target_pipedrive.client import PipedriveClient, daily_budget
from target_pipedrive.costs import CREATE_CALLS
from target_pipedrive.ledger import Ledger

LOGGER = logging.getLogger("target_pipedrive")


def read_preflight(state_dir: Path) -> dict | None:
    """The state folder's `preflight.json`, or None when there is none (or it is not readable)."""
    try:
        return json.loads((state_dir / "preflight.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def plan_budget(client: PipedriveClient, plan: str, seats: int, state_dir: Path, ledger: Ledger,
                received: Mapping[str, int]) -> dict:
    """Tokens the run will cost against the daily budget (counts only).

    From `preflight.json` when this state folder has one, else from the records received so far.
    """
    budget = client.daily_limit or daily_budget(plan, seats)
    preflight = read_preflight(state_dir)
    if preflight and preflight.get("planned_tokens") is not None:
        tokens = int(preflight["planned_tokens"])
        records = sum((preflight.get("records") or {}).values())
        # Records loaded since the preflight (a sample run, an earlier attempt) cost nothing now.
        landed = ledger.counts()
        for stream, planned in (preflight.get("planned_calls") or {}).items():
            since = min(max(landed.get(stream, 0) - int(planned.get("already_loaded") or 0), 0),
                        int(planned.get("new") or 0))
            tokens -= since * int(planned.get("create_cost") or 0)
        basis = "preflight"
        note = (f"from preflight.json (run {preflight.get('run_id')}): the whole input, minus records already "
                "loaded (then, or since)")
    else:
        counts = {s: n for s, n in received.items() if s in CREATE_CALLS}
        tokens = sum(n * client.costs.cost(*CREATE_CALLS[s]) for s, n in counts.items())
        records = sum(counts.values())
        basis = "records_received_before_first_write"
        note = ("estimated from the records received before the first write, all counted as creates: the"
                " input may hold more (run `target-pipedrive preflight` for the whole input)")
    days = max(math.ceil(tokens / budget), 1) if tokens else 0
    result = {"tokens_estimated": tokens, "daily_budget": budget, "days_needed": days, "records_counted": records,
              "daily_tokens_remaining": client.daily_remaining, "basis": basis, "note": note}
    LOGGER.info("token estimate: %d tokens for %d records (%s); daily budget %d tokens: %d day(s)",
                tokens, records, basis, budget, days)
    if days > 1:
        LOGGER.warning("this load needs about %d days of the daily budget: it stops cleanly (exit 3) when the"
                       " budget is spent; re-run the same command after each reset to resume", days)
    return result
