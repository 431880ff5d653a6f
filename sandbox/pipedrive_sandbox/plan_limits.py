"""Pipedrive's plan limits: custom fields per company and open deals per company × seats.

Over a limit Pipedrive answers 403 "Request not allowed. User account has reached a limit for an
entity." in its usual error envelope; the sandbox does the same, naming the limit in `error_info`.
"""

from __future__ import annotations

from typing import Any

from .account import Account
from .errors import ApiError
from .fields import FIELD_FAMILIES

LIMIT_REACHED = "Request not allowed. User account has reached a limit for an entity."


def check_custom_field_room(account: Account) -> None:
    """Refuse a new custom field once the company has as many as its plan allows (all entities together)."""
    settings = account.settings
    if not settings.plan_limits:
        return
    used = sum(account.store.count(table, "json_extract(data, '$.is_custom_field') = 1")
               for table in FIELD_FAMILIES.values())
    if used >= settings.custom_field_limit:
        raise ApiError(403, LIMIT_REACHED, f"Custom fields: the {settings.plan.capitalize()} plan allows "
                       f"{settings.custom_field_limit} per company (all entities together); {used} exist.")


def check_plan_limits(account: Account, entity: str, record: dict[str, Any], current: dict[str, Any] | None) -> None:
    """Refuse a deal that would become open once the company has as many open deals as plan × seats allow."""
    settings = account.settings
    if entity != "deals" or not settings.plan_limits or record.get("status") != "open":
        return
    if current is not None and current.get("status") == "open":
        return  # already counted
    open_deals = account.store.count("deals", "json_extract(data, '$.status') = 'open'")
    if open_deals >= settings.open_deal_limit:
        raise ApiError(403, LIMIT_REACHED, f"Open deals: the {settings.plan.capitalize()} plan with "
                       f"{settings.seats} seat(s) allows {settings.open_deal_limit} per company; {open_deals} are open.")
