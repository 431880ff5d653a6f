"""Config checks the JSON schema cannot express, and the base URL they resolve to."""

from __future__ import annotations

import re
import typing as t
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from tap_practicehub.pacing import SCOPES

# PracticeHub's hosting regions, as they appear in an account's URL (API.md).
REGIONS = ("neptune", "apollo", "vulcan", "jupiter")
# Resources with no public endpoint description (RESOURCES.md "(A)"), read only when the user lists them.
ASSUMED_RESOURCES = ("patient_library", "prescriptions")
_APP_DETAILS = re.compile(r"^[^=\s][^=]*=[^@\s=]+@[^@\s=]+\.[^@\s=]+$")
_ACCOUNT_DOMAIN = re.compile(r"^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$", re.IGNORECASE)


def config_errors(config: t.Mapping[str, t.Any]) -> list[str]:
    """Everything wrong with the settings, each message naming the setting to fix."""
    errors = []
    if not config.get("base_url"):
        region = config.get("region")
        if not config.get("account_domain") or not region:
            errors.append("Set `account_domain` and `region` (from the URL you log in with), or `base_url`.")
        if region and region not in REGIONS:
            errors.append(f"`region` {region!r} is not a PracticeHub region; valid regions: {', '.join(REGIONS)}.")
        domain = config.get("account_domain")
        if domain and not _ACCOUNT_DOMAIN.match(domain):
            errors.append(f"`account_domain` {domain!r} must be the first part of your PracticeHub host name.")
    keys = config.get("api_keys")
    if keys is not None and (not keys or any(not str(key).strip() for key in keys)):
        errors.append("`api_keys` needs one or more non-empty PracticeHub API keys.")
    details = config.get("app_details")
    if details is not None and not _APP_DETAILS.match(details):
        errors.append("`app_details` must be `<app name>=<contact email>`, e.g. `clinic-migration=it@example.com`.")
    assumed = config.get("assumed_resources")
    unknown = sorted(set(assumed or ()) - set(ASSUMED_RESOURCES)) if isinstance(assumed, list) else []
    if unknown:
        errors.append(f"`assumed_resources` {', '.join(map(repr, unknown))} unknown; valid: "
                      f"{', '.join(ASSUMED_RESOURCES)}.")
    scope = config.get("rate_limit_scope")
    if scope is not None and scope not in SCOPES:
        errors.append(f"`rate_limit_scope` {scope!r} must be one of {', '.join(SCOPES)}.")
    try:
        ZoneInfo(config.get("timezone") or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        errors.append(f"`timezone` {config.get('timezone')!r} is not an IANA time zone name (e.g. Europe/London).")
    return errors


def base_url(config: t.Mapping[str, t.Any]) -> str:
    """``base_url`` when given, else ``https://{account_domain}.{region}.practicehub.io/api``."""
    if config.get("base_url"):
        return str(config["base_url"]).rstrip("/")
    return f"https://{config['account_domain']}.{config['region']}.practicehub.io/api"
