"""The golden practice plus patient data the project has never seen by name (what issue 21 found leaking)."""

from __future__ import annotations

from testkit.practice import STAMP, practice

MEDICARE_LABEL = "🪪 Medicare number"
MEDICARE = {"id": 9, "name": "medicare_number", "label": MEDICARE_LABEL, "field_type": "text", "options": [],
            "phi": 1, **STAMP}
MEDICARE_VALUES = {101: "2951 23456 1", 102: "3012 76543 2", 103: "4123 98765 3"}
NHS_VALUES = {101: "943 476 5919", 102: "943 476 5920"}  # a field with no definition and not in the mapping


def unfamiliar_practice(*, nhs: bool = False) -> dict[str, list[dict]]:
    """`medicare_number`: defined with phi 1 and a label with an emoji; optionally `nhs_number` on records only."""
    records = practice()
    records["patient_custom_fields"].append(dict(MEDICARE))
    for row in records["patients"]:
        row["custom_fields"].append({"name": "medicare_number", "label": MEDICARE_LABEL,
                                     "value": MEDICARE_VALUES[row["id"]]})
        if nhs and row["id"] in NHS_VALUES:
            row["custom_fields"].append({"name": "nhs_number", "label": "NHS number", "value": NHS_VALUES[row["id"]]})
    return records


def phi_values(records: dict[str, list[dict]]) -> set[str]:
    """Every value of a PHI-marked or unclassified patient field, and the dates of birth."""
    marked = {row["name"] for row in records["patient_custom_fields"] if row.get("phi")}
    values = set()
    for row in records["patients"]:
        values |= {str(row[name]) for name in ("dob", "patient_number") if row.get(name)}
        defined = {item["name"] for item in records["patient_custom_fields"]}
        values |= {str(item["value"]) for item in row["custom_fields"]
                   if item.get("value") and (item["name"] in marked or item["name"] not in defined)}
    organizations = {row["name"] for row in records["locations"]}
    return values - organizations  # an insurer that is also a clinic is an organization's name too
