"""Value profiling and name similarity for `propose`: a best guess for fields the defaults don't know."""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field

from map_practicehub_pipedrive.convert import DATE_RE, DATETIME_RE, EMAIL_RE, PHONE_RE

PICK_LIST_MAX = 20
NUMBER_RE = re.compile(r"^-?\d+(\.\d+)?$")

# Standard targets by entity, with the source names that usually mean them.
KNOWN_NAMES = {
    "persons": {"first_name": "first_name", "firstname": "first_name", "given_name": "first_name",
                "last_name": "last_name", "lastname": "last_name", "surname": "last_name",
                "family_name": "last_name", "email": "emails.work", "email_address": "emails.work",
                "mobile": "phones.mobile", "mobile_phone": "phones.mobile", "cell": "phones.mobile",
                "phone": "phones.home", "telephone": "phones.home", "home_phone": "phones.home",
                "birthday": "birthday", "date_of_birth": "birthday", "birth_date": "birthday",
                "dob": "birthday"},
    "organizations": {"name": "name", "website": "website", "url": "website", "domain": "website"},
}
KIND_REASON = {"email": "email-like values", "phone": "phone-number-like values",
               "date": "date values (YYYY-MM-DD)", "datetime": "datetime values",
               "number": "numeric values"}


@dataclass
class Profile:
    seen: int = 0
    filled: int = 0
    kinds: dict[str, int] = field(default_factory=dict)
    distinct: set[str] = field(default_factory=set)
    too_many: bool = False
    longest: int = 0

    @property
    def kind(self) -> str | None:
        """The kind every filled value shares, if any."""
        for name, count in self.kinds.items():
            if count == self.filled and self.filled:
                return name
        return None


def _kind(value: str) -> str | None:
    if EMAIL_RE.match(value):
        return "email"
    if DATE_RE.match(value):
        return "date"
    if DATETIME_RE.match(value):
        return "datetime"
    if NUMBER_RE.match(value):
        return "number"
    if PHONE_RE.match(value) and sum(ch.isdigit() for ch in value) >= 6:
        return "phone"
    return None


def profile_records(rows: list[dict]) -> dict[str, Profile]:
    profiles: dict[str, Profile] = {}
    for row in rows:
        for name, value in row.items():
            profile = profiles.setdefault(name, Profile())
            profile.seen += 1
            if value is None or isinstance(value, (dict, list)) or str(value).strip() == "":
                continue
            text = str(value).strip()
            profile.filled += 1
            profile.longest = max(profile.longest, len(text))
            kind = _kind(text)
            if kind:
                profile.kinds[kind] = profile.kinds.get(kind, 0) + 1
            if not profile.too_many:
                profile.distinct.add(text)
                if len(profile.distinct) > PICK_LIST_MAX:
                    profile.too_many = True
                    profile.distinct.clear()
    return profiles


def _by_name(name: str, known: dict[str, str], taken: set[str]) -> dict | None:
    lowered = name.lower()
    match = difflib.get_close_matches(lowered, list(known), n=1, cutoff=0.8)
    if match:
        score = difflib.SequenceMatcher(None, lowered, match[0]).ratio()
        found, reason, confidence = known[match[0]], f"name similar to '{match[0]}'", round(0.9 * score, 2)
    else:
        tokens = [token for token in re.split(r"[^a-z0-9]+", lowered) if token in known]
        if not tokens:
            return None
        found, reason, confidence = known[tokens[0]], f"name contains '{tokens[0]}'", 0.6
    if found in taken and "." in found:
        found = found.split(".")[0] + ".other"  # a second email or phone
    if found in taken:
        return None
    return {"target": found, "reason": reason, "confidence": confidence}


def guess_field(name: str, profile: Profile | None, entity: str, taken: set[str] = frozenset()) -> dict:
    """A proposed rule for a field the defaults don't name: by name first, then by its values."""
    by_name = _by_name(name, KNOWN_NAMES.get(entity, {}), set(taken))
    if by_name:
        return by_name
    if profile is None or not profile.filled:
        return {"target": "skip", "reason": "name not recognised and no values seen", "confidence": 0.3}
    label = name.replace("_", " ").strip().capitalize()
    rule = {"target": f"custom_fields.{name.lower()}", "label": label, "phi": False}
    kind = profile.kind
    if kind == "date":
        rule.update(field_type="date")
    elif kind == "datetime":
        rule.update(field_type="varchar", format="iso8601_utc")
    elif kind == "email":
        rule.update(field_type="varchar")
    elif kind == "phone":
        rule.update(field_type="phone")
    elif kind == "number":
        rule.update(field_type="double")
    elif not profile.too_many and len(profile.distinct) <= PICK_LIST_MAX and profile.filled >= 2 * len(
        profile.distinct
    ):
        rule.update(field_type="enum", options=sorted(profile.distinct))
        rule["reason"] = f"pick-list candidate: {len(profile.distinct)} distinct values in {profile.filled}"
        rule["confidence"] = 0.6
        return rule
    else:
        rule.update(field_type="text" if profile.longest > 255 else "varchar")
    rule["reason"] = f"{KIND_REASON.get(kind, 'free text')} in {profile.filled} of {profile.seen} records"
    rule["confidence"] = 0.6 if kind else 0.4
    return rule
