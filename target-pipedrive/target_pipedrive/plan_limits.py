"""Pipedrive's plan limits, checked before the first write ("Usage limits in Pipedrive", 2026).

Custom fields count for the whole company, all entities together; open leads + deals are limited per
seat, capped at 300,000 on every plan. A real account refuses creates over a limit part-way through a
load, so the preflight makes each one a blocking issue, with what the user can do.
"""

from __future__ import annotations

from target_pipedrive.client import PipedriveClient

CUSTOM_FIELDS = {"lite": 30, "growth": 100, "premium": 300, "ultimate": 500}
OPEN_DEALS_PER_SEAT = {"lite": 2_500, "growth": 5_000, "premium": 15_000, "ultimate": 20_000}
OPEN_DEALS_CAP = 300_000
NEXT_PLAN = {"lite": "Growth", "growth": "Premium", "premium": "Ultimate"}
FIELD_LISTS = ("/personFields", "/organizationFields", "/dealFields", "/activityFields")  # what the migration touches


def open_deal_limit(plan: str, seats: int) -> int:
    return min(OPEN_DEALS_PER_SEAT.get(plan, OPEN_DEALS_PER_SEAT["lite"]) * max(int(seats), 1), OPEN_DEALS_CAP)


def custom_fields_in_use(client: PipedriveClient) -> int:
    return sum(1 for path in FIELD_LISTS for field in client.list_all(path) if field.get("is_custom_field"))


def open_deals_in_use(client: PipedriveClient) -> int:
    return len(client.list_all("/deals", params={"status": "open"}))


def check(plan: str, seats: int, fields_in_use: int, fields_new: int, deals_open: int, deals_new_open: int,
          ) -> tuple[dict, list[str]]:
    """The limits with what the account uses and the migration adds, and a blocking issue per limit exceeded."""
    field_limit, deal_limit = CUSTOM_FIELDS.get(plan, CUSTOM_FIELDS["lite"]), open_deal_limit(plan, seats)
    upgrade = f"upgrade to {NEXT_PLAN[plan]}" if plan in NEXT_PLAN else "ask Pipedrive about a higher limit"
    result = {
        "plan": plan, "seats": seats,
        "custom_fields": {"limit": field_limit, "in_use": fields_in_use, "to_create": fields_new,
                          "after": fields_in_use + fields_new},
        "open_deals": {"limit": deal_limit, "in_use": deals_open, "to_create": deals_new_open,
                       "after": deals_open + deals_new_open},
    }
    issues = []
    if fields_in_use + fields_new > field_limit:
        issues.append(
            f"custom fields: the account has {fields_in_use} and the migration creates {fields_new}, but the "
            f"{plan.capitalize()} plan allows {field_limit} per company (all entities together). Options: {upgrade}; "
            f"or send {fields_in_use + fields_new - field_limit} or more optional fields to `skip` in the mapping "
            "file (their values stay in PracticeHub), or delete unused custom fields in Pipedrive first")
    if deals_open + deals_new_open > deal_limit:
        issues.append(
            f"open deals: the account has {deals_open} open and the migration opens {deals_new_open}, but the "
            f"{plan.capitalize()} plan with {seats} seat(s) allows {deal_limit} open leads and deals per company. "
            f"Options: {upgrade} or add seats (the limit is per seat); or change the mapping's appointments "
            "status_map so fewer appointments stay open (e.g. pending visits in the past as lost)")
    return result, issues
