"""What is PHI, and whether it may leave: the policy gate, the fail-safe classification, the confirmed overrides.

A patient-level field is PHI when PracticeHub's `patient_custom_fields` definition marks it (`phi: 1`), when
the known fields mark it (the defaults), or when neither says anything: unclassified patient data is PHI
until the mapping file says `phi: false` and `confirm` has shown that choice.
"""

from __future__ import annotations

import click

POLICIES = ("refuse", "exclude", "include")
# Streams whose records belong to a patient: a field of theirs that nobody classified is PHI.
PATIENT_STREAMS = frozenset({
    "patients", "appointments", "clinical_notes", "files", "reminders", "invoices", "payments",
    "patient_packages", "care_plans", "patient_logs", "custom_form_responses"})
# Rule targets that send no value of the field to Pipedrive (or only a record's id): no PHI decision needed.
NOT_SENT = frozenset({"skip", "skip_record_when_true", "source_id", "person_source_id", "deal_source_id",
                      "org_source_id", "owner"})
UNCLASSIFIED = "neither PracticeHub nor the known fields classify it: PHI until you set phi: false"
FOUND_WORDS = {True: "PracticeHub or the known fields mark it PHI", None: "unclassified"}


class PhiPolicyError(click.ClickException):
    exit_code = 2


def include_phi(config: dict, marks: list[str]) -> bool:
    """True to carry PHI, False to leave it out; raises with the fix when the run must not start."""
    policy = config.get("phi_policy") or "refuse"
    if policy not in POLICIES:
        raise PhiPolicyError(f"phi_policy {policy!r} is not one of {', '.join(POLICIES)}")
    if policy == "refuse" and marks:
        raise PhiPolicyError(
            f"phi_policy is 'refuse' and the mapping marks {len(marks)} PHI fields or streams "
            f"({', '.join(marks[:6])}{', ...' if len(marks) > 6 else ''}). Set phi_policy to 'exclude' "
            "to leave PHI out (clinical notes and attachments are skipped as phi_excluded), or to "
            "'include' with baa_reference set to your Business Associate Agreement with Pipedrive."
        )
    if policy == "include" and not str(config.get("baa_reference") or "").strip():
        raise PhiPolicyError(
            "phi_policy is 'include' but baa_reference is empty: PHI may only be moved to Pipedrive under "
            "a signed Business Associate Agreement. Set baa_reference (e.g. the agreement's id), or use "
            "phi_policy 'exclude'."
        )
    return policy == "include"


def source_mark(definition: dict | None) -> bool | None:
    """PracticeHub's own `phi` flag of a definition: True, False, or None when it says nothing."""
    value = (definition or {}).get("phi")
    if value is None or value == "":
        return None
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes")
    return bool(value)


def classify(known: bool | None, marked: bool | None) -> tuple[bool, bool | None, str]:
    """(phi, found, why) from the known fields' mark and PracticeHub's mark; PHI wins, silence is PHI."""
    if marked or known:
        why = "PracticeHub marks it PHI" if marked else "a known PHI field"
        return True, True, why
    if marked is False or known is False:
        why = "PracticeHub marks it not PHI" if marked is False else "a known field, not PHI"
        return False, False, why
    return True, None, UNCLASSIFIED


def mark_of(stream: str, section: str, source: str) -> str:
    """The name a PHI field goes by in messages, reports and `minimum_necessary`."""
    return f"{stream}.custom_fields.{source}" if section == "custom_fields" else f"{stream}.{source}"


def _rules(raw: dict | list) -> list[dict]:
    return [rule for rule in (raw if isinstance(raw, list) else [raw]) if isinstance(rule, dict)]


def non_phi_overrides(data: dict, defaults: dict) -> list[dict]:
    """Fields (and streams) the mapping sends as not PHI although the source did not mark them so.

    What the source said is the rule's `phi_found` as `propose` wrote it; without one, the defaults' mark for
    a known field, and for an unknown field of a patient stream: unclassified. A stream the defaults don't
    know (mapped by hand) is unclassified as a whole, and so are its fields.
    """
    found_streams = defaults.get("streams") or {}
    overrides = []
    for stream, entry in (data.get("streams") or {}).items():
        entry = entry or {}
        known_entry = found_streams.get(stream) or {}
        if entry.get("target") in ("skip", "reference", "documented", "consumed"):
            continue
        known_stream = stream in found_streams
        stream_found = entry.get("phi_found", known_entry.get("phi", False) if known_stream else None)
        if not entry.get("phi") and stream_found is not False:
            overrides.append({"mark": stream, "label": stream, "found": FOUND_WORDS[stream_found]})
        if entry.get("phi"):
            continue  # the whole stream is left out or carried as PHI: its fields need no decision
        for section in ("fields", "custom_fields"):
            known_section = known_entry.get(section) or {}
            for source, raw in (entry.get(section) or {}).items():
                known_rules = _rules(known_section.get(source) or [])
                for index, rule in enumerate(_rules(raw)):
                    if rule.get("phi") or str(rule.get("target")) in NOT_SENT:
                        continue
                    if "phi_found" in rule:
                        found = rule["phi_found"]
                    elif index < len(known_rules):
                        found = bool(known_rules[index].get("phi", False))
                    else:
                        found = None if stream in PATIENT_STREAMS or not known_stream else False
                    if found is not False:
                        overrides.append({"mark": mark_of(stream, section, source),
                                          "label": rule.get("label") or source, "found": FOUND_WORDS[found]})
    unique = {item["mark"]: item for item in overrides}
    return [unique[mark] for mark in sorted(unique)]
