"""Who sees what: a simplified model of Pipedrive's visibility groups.

Admins see everything. A regular user sees records they own and records visible to their group
or the whole company (visible_to 3, 5 or 7): the sandbox has a single visibility group, so
"owner's group" means every user. Only an admin or the owner may delete a record.
"""

from __future__ import annotations

from typing import Any

from .errors import ApiError

OWNER_ONLY = 1
SHARED_VISIBILITY = (3, 5, 7)
VISIBLE_TO_VALUES = (1, 3, 5, 7)


def is_admin(user: dict[str, Any]) -> bool:
    return bool(user.get("is_admin"))


def can_see(user: dict[str, Any], record: dict[str, Any]) -> bool:
    if is_admin(user) or "visible_to" not in record:
        return True
    return record.get("owner_id") == user["id"] or record.get("visible_to") in SHARED_VISIBILITY


def sql_filter(user: dict[str, Any]) -> tuple[str, list[Any]]:
    """A WHERE clause on the records table restricting a list to what `user` may see."""
    if is_admin(user):
        return "", []
    return "owner_id = ? OR visible_to IS NULL OR visible_to IN (3, 5, 7)", [user["id"]]


def check_delete(user: dict[str, Any], record: dict[str, Any]) -> None:
    if not is_admin(user) and record.get("owner_id") not in (None, user["id"]):
        raise ApiError(403, "You do not have permission to delete this item")
