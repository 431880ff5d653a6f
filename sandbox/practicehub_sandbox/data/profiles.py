"""How many records of each resource a profile has."""

from __future__ import annotations

from ..resources import ASSUMED_RESOURCES, RESOURCES

TINY: dict[str, int] = {
    "locations": 3, "patient_custom_fields": 8, "practitioners": 4, "users": 5, "appointment_types": 4,
    "payment_methods": 3, "workflows": 3, "patients": 20, "appointments": 30, "clinical_notes": 10,
    "files": 8, "invoices": 12, "payments": 10, "patient_packages": 4, "care_plans": 4, "patient_logs": 10,
    "custom_form_responses": 5, "reminders": 10,
}

# Configuration-like resources have a fixed size per profile; the rest share the remaining total.
_FIXED: dict[str, dict[str, int]] = {
    "demo": {
        "locations": 4, "patient_custom_fields": 8, "practitioners": 10, "users": 12, "appointment_types": 10,
        "payment_methods": 5, "workflows": 6,
    },
    "clinic-50k": {
        "locations": 5, "patient_custom_fields": 8, "practitioners": 30, "users": 40, "appointment_types": 20,
        "payment_methods": 6, "workflows": 12,
    },
}
_TOTALS = {"demo": 2_000, "clinic-50k": 50_000}
_WEIGHTS: dict[str, int] = {
    "patients": 14, "appointments": 30, "clinical_notes": 10, "files": 5, "invoices": 12, "payments": 10,
    "patient_packages": 2, "care_plans": 2, "patient_logs": 6, "custom_form_responses": 2, "reminders": 12,
}

# The assumed resources come on top of a profile's total, so every other resource keeps its records.
_ASSUMED: dict[str, dict[str, int]] = {
    "tiny": {"patient_library": 5, "prescriptions": 10},
    "demo": {"patient_library": 16, "prescriptions": 60},
    "clinic-50k": {"patient_library": 120, "prescriptions": 1_500},
}

PROFILES: tuple[str, ...] = ("tiny", "demo", "clinic-50k")


def profile_counts(profile: str) -> dict[str, int]:
    """Records per resource, in generation order; demo and clinic-50k add up to exactly their total, plus the
    assumed resources (``ASSUMED_RESOURCES``)."""
    if profile == "tiny":
        counts = dict(TINY)
    elif profile in _FIXED:
        counts = dict(_FIXED[profile])
        remaining = _TOTALS[profile] - sum(counts.values())
        weight_sum = sum(_WEIGHTS.values())
        for resource, weight in _WEIGHTS.items():
            counts[resource] = remaining * weight // weight_sum
        counts["appointments"] += _TOTALS[profile] - sum(counts.values())
    else:
        raise ValueError(f"unknown dataset profile {profile!r}; choose one of {', '.join(PROFILES)}")
    counts.update(_ASSUMED[profile])
    assert set(counts) == set(RESOURCES) and list(counts)[-len(ASSUMED_RESOURCES):] == list(ASSUMED_RESOURCES)
    return counts
