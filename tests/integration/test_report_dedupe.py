"""The report's de-duplication sections, from a real mapper run: merges and shared-email groups with their
evidence (PracticeHub IDs, field names), account persons not adopted; never a patient value."""

from __future__ import annotations

import json

from testkit.mapper_run import base_config, run_mapper, singer_lines
from testkit.practice import patient

PATIENTS = [patient(1, "Maria", "Lopez", "lopez.family@example.com", dob="1980-02-03"),
            patient(2, "Diego", "Lopez", "lopez.family@example.com", dob="2012-05-06"),
            patient(3, "LOPEZ", "maria", " Lopez.Family@example.com", dob="1980-02-03"),
            patient(4, "Emma", "Hart", "hart@example.com", dob="2010-01-01"),
            patient(5, "Ella", "Hart", "hart@example.com", dob="2010-01-01")]
VALUES = ("Maria", "Diego", "Lopez", "lopez.family", "Emma", "Ella", "Hart", "1980-02-03", "2012-05-06", "2010-01-01")


def test_merges_groups_and_adoptions_are_shown_with_ids_and_field_names_only(make_report, report_inputs, tmp_path):
    run_mapper(base_config(tmp_path / "mapper", run_id="full"), singer_lines({"patients": PATIENTS}))
    mapper_report = json.loads((tmp_path / "mapper" / "reports" / "dedupe.json").read_text())
    report_inputs["transform"]["dedupe.json"] = mapper_report
    report_inputs["state"]["summary.json"]["adoptions"] = [
        {"decision": "adopted", "source_id": "patients:4", "pipedrive_id": 77, "matched_on": ["email", "name"],
         "differs_on": [], "not_compared": ["date_of_birth"], "note": ""},
        {"decision": "not_adopted", "source_id": "patients:5", "pipedrive_id": 77, "matched_on": ["email"],
         "differs_on": ["name"], "not_compared": ["date_of_birth"], "note": ""}]

    page, summary, html_path, json_path = make_report(report_inputs)

    assert page.number("dedupe.merges") == 1
    assert summary["dedupe"]["merges"] == [{"survivor_source_id": "patients:1", "merged_source_id": "patients:3",
                                            "run_id": "full", "matched_on": "email, name, date_of_birth",
                                            "not_compared": ""}]
    assert page.number("dedupe.shared_email_groups") == 2
    assert page.number("dedupe.kept_apart") == 2
    assert sorted(group["persons"] for group in summary["dedupe"]["shared_email_groups"]) == [
        ["patients:1", "patients:2"], ["patients:4", "patients:5"]]
    assert page.number("dedupe.adopted") == 1 and page.number("dedupe.not_adopted") == 1
    text = html_path.read_text("utf-8")
    assert "patients:2 ≠ patients:1: name" in text
    assert summary["dedupe"]["rule"] == "email, name, date_of_birth"
    everything = text + json_path.read_text("utf-8")
    assert not any(value in everything for value in VALUES)


def test_a_dedupe_report_of_another_shape_is_shown_as_far_as_it_goes(make_report, report_inputs):
    report_inputs["transform"]["dedupe.json"] = {"merges": {"not": "a list"}, "shared_email_groups": [1, "x"],
                                                 "review": None, "rule": "email"}
    page, summary, _, _ = make_report(report_inputs)
    assert page.number("dedupe.merges") == 0 and page.number("dedupe.shared_email_groups") == 0
    assert summary["dedupe"]["available"] is True and summary["dedupe"]["rule"] == ""
