"""Under `exclude` no PHI value leaves the mapper, whatever the field is called; `include` carries what it may."""

from __future__ import annotations

import json

from map_practicehub_pipedrive.mapping import confirm, dump, propose
from testkit.mapper_run import base_config, run_mapper, singer_lines
from testkit.practice import practice

from tests.phi_practice import (
    MEDICARE_LABEL,
    MEDICARE_VALUES,
    NHS_VALUES,
    phi_values,
    unfamiliar_practice,
)

CLINICAL = ("Sore knee", "Exercises", "knee.pdf", "Walk without pain", "Knee rehab", "Rebook next week")


def _mapping(tmp_path, records, edit=None):
    proposal = propose(None, records)
    if edit:
        edit(proposal)
    path = tmp_path / "mapping.yml"
    path.write_text(dump(proposal), "utf-8")
    confirm(path, by="tester")
    return path


def _run(tmp_path, records, edit=None, mapped_from=None, **config):
    path = _mapping(tmp_path, mapped_from or records, edit)
    settings = base_config(tmp_path, mapping_file=path, **config)
    return run_mapper(settings, singer_lines(records)), tmp_path / "reports"


def _found(output, needles) -> set[str]:
    text = output.text.casefold()
    return {needle for needle in needles if needle.casefold() in text}


def test_exclude_sends_no_value_of_a_phi_or_unclassified_field_and_masks_stray_copies(tmp_path):
    records = unfamiliar_practice(nhs=True)
    records["payments"][0]["note"] = "Claim sent for MRN-101, card 2951 23456 1, NHS 943 476 5919"  # typed in
    # nhs_number appears after the mapping was made: no rule, so its values are never sent (and masked).
    output, reports = _run(tmp_path, records, mapped_from=unfamiliar_practice(), phi_policy="exclude",
                           baa_reference=None)

    assert _found(output, phi_values(records) | set(CLINICAL)) == set()
    for stream in ("persons", "deals", "activities", "notes"):  # x-phi tells the target what must not go
        phi_mark = output.schemas[stream]["schema"]["x-phi"]
        assert phi_mark["policy"] == "exclude" and "clinical_notes" in phi_mark["left_out_streams"]
    assert output.schemas["persons"]["schema"]["x-phi"]["left_out_properties"] == {"persons": ["birthday"]}
    payment = output.by_id("notes")["payments:801"]["content"]
    assert payment.endswith("<p>Claim sent for [PHI removed], card [PHI removed], NHS [PHI removed]</p>")

    report = json.loads((reports / "phi.json").read_text())
    left_out = {item["mark"]: item for item in report["left_out"]}
    assert left_out["patients.custom_fields.medicare_number"]["values"] == len(MEDICARE_VALUES)
    assert left_out["patients.custom_fields.medicare_number"]["label"] == MEDICARE_LABEL
    assert left_out["patients.dob"]["values"] == 2  # Bob has no date of birth
    assert left_out["patients.custom_fields.nhs_number"]["values"] == len(NHS_VALUES)
    assert "not in the mapping file" in left_out["patients.custom_fields.nhs_number"]["why"]
    assert left_out["clinical_notes"]["records"] == 2 and left_out["appointments.note"]["values"] == 1
    assert report["policy"] == "exclude" and report["carried"] == []
    assert report["masked"] == [{"stream": "notes", "field": "content", "count": 1}]
    assert "2951" not in (reports / "phi.json").read_text()  # names and counts only


def test_a_field_confirmed_as_not_phi_is_sent(tmp_path):
    def not_phi(proposal):
        proposal["streams"]["patients"]["custom_fields"]["medicare_number"]["phi"] = False

    output, reports = _run(tmp_path, unfamiliar_practice(), not_phi, phi_policy="exclude", baa_reference=None)
    alice = output.by_id("persons")["patients:101"]
    assert alice["custom_fields"]["medicare_number"] == MEDICARE_VALUES[101]
    assert json.loads((reports / "phi.json").read_text())["confirmed_not_phi"] == [
        "patients.custom_fields.medicare_number"]


def test_practicehub_marking_a_field_phi_after_the_mapping_was_confirmed_leaves_it_out(tmp_path, caplog):
    records = practice()
    mapping_records = practice()  # when the map was proposed, preferred_contact was not PHI
    records["patient_custom_fields"][2]["phi"] = 1  # since then the practice marked it PHI
    path = _mapping(tmp_path, mapping_records)
    output = run_mapper(base_config(tmp_path, mapping_file=path, phi_policy="exclude", baa_reference=None),
                        singer_lines(records))
    assert "preferred_contact" not in output.by_id("persons")["patients:101"]["custom_fields"]
    fields = output.schemas["persons"]["schema"]["properties"]["custom_fields"]["properties"]
    assert "preferred_contact" not in fields
    assert "patients.custom_fields.preferred_contact: PracticeHub marks it PHI" in caplog.text
    report = json.loads((tmp_path / "reports" / "phi.json").read_text())
    entry = next(item for item in report["left_out"] if item["mark"] == "patients.custom_fields.preferred_contact")
    assert entry["left_out_at_run_time"] and entry["values"] == 3


def test_minimum_necessary_carries_only_the_selected_phi_under_a_baa(tmp_path):
    def select(proposal):
        proposal["minimum_necessary"] = ["patients.custom_fields.mrn"]

    records = unfamiliar_practice()
    output, reports = _run(tmp_path, records, select)  # phi_policy include, baa_reference set
    alice = output.by_id("persons")["patients:101"]
    assert alice["custom_fields"]["mrn"] == "MRN-101"
    assert alice["birthday"] is None and "medicare_number" not in alice["custom_fields"]
    assert output.skipped()["clinical_notes:301"] == "phi_excluded"
    detail = next(r["detail"] for r in output.records["skipped"] if r["source_id"] == "clinical_notes:301")
    assert detail == "clinical_notes holds PHI and minimum_necessary does not select it"
    schema = output.schemas["persons"]["schema"]
    assert schema["x-phi"]["policy"] == "include"
    assert schema["properties"]["custom_fields"]["properties"]["mrn"]["x-pipedrive-field"]["phi"] is True
    assert _found(output, set(MEDICARE_VALUES.values()) | {"1985-07-14"}) == set()
    report = json.loads((reports / "phi.json").read_text())
    assert report["carried"] == ["patients.custom_fields.mrn"]
    assert report["minimum_necessary"] == ["patients.custom_fields.mrn"]


def test_include_without_minimum_necessary_carries_every_phi_field(tmp_path):
    records = unfamiliar_practice()
    output, reports = _run(tmp_path, records)
    alice = output.by_id("persons")["patients:101"]
    assert (alice["birthday"], alice["custom_fields"]["medicare_number"]) == ("1985-07-14", MEDICARE_VALUES[101])
    assert output.schemas["persons"]["schema"]["x-phi"] == {"policy": "include", "left_out_properties": {},
                                                             "left_out_streams": []}
    assert json.loads((reports / "phi.json").read_text())["left_out"] == []


def test_the_issue_case_a_one_record_sample_never_reads_the_definition_and_the_values_still_stay_out(tmp_path):
    records = unfamiliar_practice()
    one_per_stream = {stream: rows[:1] for stream, rows in records.items()}  # what `--test=record` gives propose
    output, _ = _run(tmp_path, records, mapped_from=one_per_stream, phi_policy="exclude", baa_reference=None)
    assert _found(output, phi_values(records)) == set()
    assert len(output.by_id("persons")) == 2  # the patients themselves still go (Alicia merged into Alice)


def test_a_short_bare_number_masks_nothing(tmp_path):
    """Patient number "2024" is PHI and left out, but the year in a deal title is not that number."""
    records = practice()
    records["patients"][0]["patient_number"] = "2024"
    output, reports = _run(tmp_path, records, phi_policy="exclude", baa_reference=None)
    assert output.by_id("deals")["appointments:201"]["title"] == "Initial Consultation — 2024-04-10 09:30"
    assert json.loads((reports / "phi.json").read_text())["masked"] == []
