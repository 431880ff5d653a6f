"""The report lists every PHI field the run left out, by name and count, and what the target's check kept out."""

from __future__ import annotations


def _phi_report() -> dict:
    return {"policy": "exclude", "minimum_necessary": None, "carried": [], "confirmed_not_phi": [
        "patients.custom_fields.locker_code"],
        "left_out": [
            {"mark": "clinical_notes", "label": "clinical_notes", "why": "clinical notes", "records": 40},
            {"mark": "patients.custom_fields.medicare_number", "label": "🪪 Medicare number",
             "why": "PracticeHub marks it PHI", "values": 118},
            {"mark": "patients.custom_fields.nhs_number", "label": "nhs_number",
             "why": "not in the mapping file: unclassified patient data, so PHI", "values": 3},
            {"mark": "patients.dob", "label": "dob", "why": "date of birth (PHI)", "values": 112}],
        "masked": [{"stream": "notes", "field": "content", "count": 2}]}


def test_every_left_out_phi_field_is_listed_with_its_count(make_report, report_inputs):
    report_inputs["transform"]["phi.json"] = _phi_report()
    report_inputs["state"]["summary.json"]["phi_guard"] = {
        "values_stripped": {"persons.birthday": 1}, "records_refused": {"notes from clinical_notes": 1}}
    page, summary, _, _ = make_report(report_inputs)
    assert page.number("phi.left_out.count") == 4
    assert page.number("phi.left_out.patients.custom_fields.medicare_number") == 118
    assert page.number("phi.left_out.clinical_notes") == 40
    assert page.number("phi.masked") == 2 and page.number("phi.target_kept_out") == 2
    text = "".join(page.text)
    assert "🪪 Medicare number" in text and "patients.custom_fields.locker_code" in text
    assert summary["phi"]["left_out"][1]["unit"] == "values"
    assert summary["input_problems"] == []


def test_a_run_without_a_phi_report_says_so(make_report, report_inputs):
    report_inputs["transform"].pop("phi.json", None)
    page, summary, _, _ = make_report(report_inputs)
    assert summary["phi"]["available"] is False and summary["input_problems"] == []
    assert "wrote no PHI report" in "".join(page.text)
