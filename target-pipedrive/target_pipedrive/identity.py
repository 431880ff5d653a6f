"""When two person records are the same person: the one rule de-duplication and adoption share.

The mapper merges two patients only when this rule says they are the same person, and the target adopts
a person already in the Pipedrive account only on the same rule. It lives here, in the target's public
API, because it is part of the `persons` contract the target consumes (see the transform README): the
mapper imports it, the target never imports the mapper. Standard library only, so importing it costs
the mapper's start-up nothing.

The rule: the same email (trimmed, case-insensitive) and the same name, normalised (Unicode NFKC, case
folded, accents on Latin letters folded, punctuation and whitespace collapsed, token order ignored) and,
where both records have one, the same date of birth. Accents are folded on Latin letters only: folding
marks of other scripts (Devanagari viramas, Cyrillic breves) can make two different names equal, and a
missed merge is safe where a wrong one is not.

Records are compared by fingerprints: SHA-256 digests, the name salted with the email and the date of
birth with email and name, so a fingerprint kept in a state file holds no value in the clear and a
report built from a comparison names fields, never values.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass

EMAIL, NAME, DATE_OF_BIRTH = "email", "name", "date_of_birth"
MATCH_FIELDS = (EMAIL, NAME, DATE_OF_BIRTH)
DEFAULT_MATCH_ON = MATCH_FIELDS
# The rules a mapping file may choose: email is the candidate key, so every rule but "off" starts with it.
RULES = {"identity": DEFAULT_MATCH_ON, "email_and_name": (EMAIL, NAME), "email_only": (EMAIL,), "off": ()}
REQUIRED = frozenset({EMAIL, NAME})  # must be present on both records; the date of birth only where both have one

_DROPPED = re.compile(r"['\u2018\u2019\u02bc`\u00b4]")  # O'Brien = OBrien
_SEPARATORS = re.compile(r"[\s\-\u2010-\u2015.,;:/_()\"]+")  # Mary-Jane = Mary Jane; "Smith, Ann" = Ann Smith
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}")


def normalise_email(value: object) -> str | None:
    """Case- and space-insensitive; None when there is no address."""
    if value is None:
        return None
    result = "".join(str(value).split()).lower()
    return result or None


def normalise_name(value: object) -> str | None:
    """The name's tokens, folded and sorted: "  ANDERS, Zoë" and "zoe anders" are both "anders zoe"."""
    if value is None:
        return None
    folded = str(value)
    if folded.isascii():
        folded = folded.lower()  # most names: nothing to fold but case
    else:
        kept, base_is_latin = [], False
        for char in unicodedata.normalize("NFKD", unicodedata.normalize("NFKC", folded).casefold()):
            if unicodedata.combining(char):
                if base_is_latin and "\u0300" <= char <= "\u036f":
                    continue  # an accent on a Latin letter
            else:
                base_is_latin = unicodedata.name(char, "").startswith("LATIN")
            kept.append(char)
        folded = unicodedata.normalize("NFC", "".join(kept))
    tokens = sorted(token for token in _SEPARATORS.split(_DROPPED.sub("", folded)) if token)
    return " ".join(tokens) or None


def normalise_date(value: object) -> str | None:
    """`YYYY-MM-DD` (a datetime keeps its date part); None for no date. Text that is not such a date is kept
    as written (trimmed, case folded): a date nobody could read still differs from every other date."""
    if value is None:
        return None
    text = " ".join(str(value).split()).casefold()
    if not text:
        return None
    return text[:10] if _DATE.match(text) else text


def _digest(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()


def email_key(email: object) -> str | None:
    """The digest two records with the same email share (the candidate key)."""
    normalised = normalise_email(email)
    return _digest(normalised) if normalised else None


def fingerprint(email: object, name: object, date_of_birth: object) -> dict[str, str | None] | None:
    """Digests of the normalised email, name and date of birth; None for a record without an email."""
    address = normalise_email(email)
    if address is None:
        return None
    person = normalise_name(name)
    born = normalise_date(date_of_birth)
    return {
        EMAIL: _digest(address),
        NAME: _digest(NAME, address, person) if person else None,
        DATE_OF_BIRTH: _digest(DATE_OF_BIRTH, address, person or "", born) if born else None,
    }


@dataclass(frozen=True)
class Verdict:
    """Whether two fingerprints are the same person, and the evidence (field names only)."""

    same: bool
    matched_on: tuple[str, ...]
    differs_on: tuple[str, ...]
    not_compared: tuple[str, ...]  # fields of the rule one record has no value for


def compare(a: dict, b: dict, match_on: tuple[str, ...] | list[str] = DEFAULT_MATCH_ON) -> Verdict:
    """Same person under the rule `match_on` (an empty rule never says so).

    The date-of-birth digest is salted with the name, so dates of birth are compared only where the names
    agree (every rule with the date of birth has the name): two records with other names are different
    people whatever their dates of birth.
    """
    matched, differs, missing = [], [], []
    for field in match_on:
        if field == DATE_OF_BIRTH and NAME not in matched:
            missing.append(field)  # its digest is salted with the name: comparable only where the names agree
            continue
        mine, theirs = a.get(field), b.get(field)
        if mine is None or theirs is None:
            missing.append(field)
        elif mine == theirs:
            matched.append(field)
        else:
            differs.append(field)
    same = bool(match_on) and not differs and not (REQUIRED & set(missing) & set(match_on))
    return Verdict(same, tuple(matched), tuple(differs), tuple(missing))


def canonical_rule(match_on: object) -> tuple[str, ...] | None:
    """The rule's fields in their usual order; None when `match_on` is not one of RULES (off: False, [] or "off")."""
    if match_on in (False, "off", []):
        return ()
    if not isinstance(match_on, (list, tuple)) or not all(isinstance(field, str) for field in match_on):
        return None
    wanted = set(match_on)
    return next((fields for fields in RULES.values() if set(fields) == wanted and len(match_on) == len(wanted)),
                None)


def rule_name(match_on: tuple[str, ...] | list[str]) -> str:
    """The rule's name in RULES ("identity", "email_and_name", "email_only", "off")."""
    return next((name for name, fields in RULES.items() if tuple(match_on) == fields), "+".join(match_on))
