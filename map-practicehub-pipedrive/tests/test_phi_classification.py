"""`propose` classifies fail-safe and `confirm` binds every field sent as not PHI that the source did not mark so."""

from __future__ import annotations

import json

import pytest
import yaml
from map_practicehub_pipedrive import cli
from map_practicehub_pipedrive.mapping import (
    LABEL_LIMIT,
    MappingError,
    check_confirmed,
    confirm,
    content_hash,
    dump,
    pipedrive_label,
    propose,
    read_mapping,
)
from testkit.practice import practice

from tests.phi_practice import MEDICARE, MEDICARE_LABEL, unfamiliar_practice


def _custom(proposal: dict) -> dict:
    return proposal["streams"]["patients"]["custom_fields"]


def test_a_field_practicehub_marks_phi_is_phi_under_its_own_label():
    rule = _custom(propose(None, unfamiliar_practice()))["medicare_number"]
    assert (rule["phi"], rule["phi_found"], rule["label"]) == (True, True, MEDICARE_LABEL)
    assert "PracticeHub marks it PHI" in rule["reason"]


def test_a_field_seen_only_in_records_is_phi_until_marked_otherwise():
    """The issue's case: the sample held one definition, so the unfamiliar field's definition was never read."""
    records = unfamiliar_practice()
    records["patient_custom_fields"] = records["patient_custom_fields"][:1]
    rule = _custom(propose(None, records))["medicare_number"]
    assert (rule["phi"], rule["phi_found"]) == (True, None)
    assert rule["label"] == MEDICARE_LABEL  # the label the records carry
    assert "custom field seen in records" in rule["reason"] and "PHI until you set phi: false" in rule["reason"]


def test_definitions_read_in_full_win_over_the_sample():
    records = unfamiliar_practice()
    definitions = records.pop("patient_custom_fields")
    one_per_stream = {name: rows[:1] for name, rows in records.items()}
    custom = _custom(propose(None, one_per_stream, definitions))
    assert custom["medicare_number"]["phi_found"] is True
    assert custom["preferred_contact"]["phi"] is False and custom["preferred_contact"]["options"] == [
        "Email", "SMS", "Phone"]


def test_practicehub_marking_a_known_field_phi_makes_it_phi_and_not_phi_needs_practicehub_or_the_defaults():
    records = practice()
    records["patient_custom_fields"] += [
        {"id": 7, "name": "emergency_contact", "label": "Emergency contact", "field_type": "text", "phi": 1},
        {"id": 8, "name": "locker_code", "label": "Locker", "field_type": "text", "phi": 0},
        {"id": 10, "name": "shoe_size", "label": "Shoe size", "field_type": "number"}]  # no phi flag at all
    custom = _custom(propose(None, records))
    assert (custom["emergency_contact"]["phi"], custom["emergency_contact"]["phi_found"]) == (True, True)
    assert (custom["locker_code"]["phi"], custom["locker_code"]["phi_found"]) == (False, False)
    assert (custom["shoe_size"]["phi"], custom["shoe_size"]["phi_found"]) == (True, None)
    assert custom["mrn"]["phi"] is True  # known PHI stays PHI whatever the definition says


def test_unknown_fields_of_patient_streams_are_phi_and_of_other_streams_not():
    records = practice()
    records["patients"][0]["nhs_number"] = "943 476 5919"
    records["appointments"][0]["diagnosis"] = "Sprain"
    records["locations"][0]["parking"] = "Level 2"
    streams = propose(None, records)["streams"]
    assert streams["patients"]["fields"]["nhs_number"]["phi"] is True
    assert streams["appointments"]["fields"]["diagnosis"]["phi"] is True
    assert streams["locations"]["fields"]["parking"]["phi"] is False


def test_labels_keep_emoji_fit_pipedrive_and_stay_unique():
    family = "👩\u200d👩\u200d👧"  # one emoji of five code points
    long_label = "x" * (LABEL_LIMIT - 2) + family
    cut = pipedrive_label(long_label)
    assert len(cut) <= LABEL_LIMIT and cut == "x" * (LABEL_LIMIT - 2)  # the emoji whole or not at all
    assert pipedrive_label("  Vaccination\n status 💉 ") == "Vaccination status 💉"
    records = practice()
    records["patient_custom_fields"].append({"id": 11, "name": "mrn_old", "label": "Medical record number",
                                             "field_type": "text", "phi": 1})
    custom = _custom(propose(None, records))
    assert custom["mrn"]["label"] == "Medical record number"
    assert custom["mrn_old"]["label"] == "Medical record number (mrn_old)"


def test_confirm_lists_and_binds_the_fields_sent_as_not_phi(tmp_path, capsys):
    records = unfamiliar_practice()
    records["patient_custom_fields"] = records["patient_custom_fields"][:1]  # medicare_number unclassified
    proposal = propose(None, records)
    _custom(proposal)["medicare_number"]["phi"] = False  # the reviewer decides it is not PHI
    _custom(proposal)["mrn"]["phi"] = False  # and, against the known fields, the MRN too
    path = tmp_path / "mapping.yml"
    path.write_text(dump(proposal), "utf-8")

    cli.main(["confirm", "--mapping", str(path), "--by", "reviewer"])
    shown = capsys.readouterr().out
    assert "2 fields are sent as NOT PHI" in shown
    assert "patients.custom_fields.medicare_number (🪪 Medicare number): unclassified" in shown
    assert "patients.custom_fields.mrn (Medical record number): PracticeHub or the known fields mark it PHI" in shown
    data = read_mapping(path)
    assert data["confirmed"]["non_phi"] == ["patients.custom_fields.medicare_number", "patients.custom_fields.mrn"]
    assert data["confirmed"]["sha256"] != content_hash(data)  # the choice is part of the hash
    check_confirmed(data, path)

    edited = yaml.safe_load(path.read_text())
    edited["confirmed"]["non_phi"] = ["patients.custom_fields.mrn"]
    with pytest.raises(MappingError, match="changed since it was confirmed"):
        check_confirmed(edited, path)
    # A map confirmed before it sent these fields as not PHI (the plain content hash) says what is new.
    edited["confirmed"] = {"sha256": content_hash(edited), "by": "someone"}
    with pytest.raises(MappingError, match="not confirmed as such .*medicare_number"):
        check_confirmed(edited, path)


def test_confirm_of_the_defaults_lists_nothing(tmp_path, capsys):
    path = tmp_path / "mapping.yml"
    path.write_text(dump(propose(None, practice())), "utf-8")
    mark = confirm(path, by="reviewer")
    assert "non_phi" not in mark and mark["sha256"] == content_hash(read_mapping(path))


def test_minimum_necessary_names_only_phi_marks(tmp_path):
    proposal = propose(None, practice())
    proposal["minimum_necessary"] = ["patients.custom_fields.mrn", "patients.first_name"]
    path = tmp_path / "mapping.yml"
    path.write_text(dump(proposal), "utf-8")
    with pytest.raises(MappingError, match="minimum_necessary names patients.first_name, which the mapping does not"):
        read_mapping(path)


def test_propose_reads_the_audit_beside_the_mapping_folder(tmp_path, capsys):
    """One record per stream in the sample; the audit's definitions in full and its profile sample."""
    records = unfamiliar_practice()
    audit = tmp_path / "audit"
    audit.mkdir()
    (audit / "patient_custom_fields.json").write_text(json.dumps(
        {"complete": True, "count": len(records["patient_custom_fields"]),
         "definitions": records["patient_custom_fields"]}))
    (audit / "profile-sample.jsonl").write_text("".join(
        json.dumps({"type": "RECORD", "stream": stream, "record": row}) + "\n"
        for stream, rows in records.items() for row in rows))
    sample = tmp_path / "sample.singer"
    sample.write_text("".join(json.dumps({"type": "RECORD", "stream": stream, "record": rows[0]}) + "\n"
                              for stream, rows in records.items()))
    out = tmp_path / "mapping.yml"
    cli.main(["propose", "--sample", str(sample), "--out", str(out)])
    printed = capsys.readouterr().out
    assert f"all {len(records['patient_custom_fields'])}, from {audit / 'patient_custom_fields.json'}" in printed
    assert "value profile: " in printed and "records from" in printed
    data = read_mapping(out)
    rule = data["streams"]["patients"]["custom_fields"]["medicare_number"]
    assert (rule["phi"], rule["phi_found"], rule["label"]) == (True, True, MEDICARE["label"])
    # Values from more than one record: both referral sources the practice uses.
    assert data["streams"]["patients"]["fields"]["referral_source"]["options"] == ["Friend", "Google"]
    assert "# patient custom field definitions: all" in out.read_text()


def test_propose_without_an_audit_says_how_to_read_the_definitions_in_full(tmp_path, capsys):
    sample = tmp_path / "sample.singer"
    sample.write_text(json.dumps({"type": "RECORD", "stream": "patients", "record": practice()["patients"][0]}))
    cli.main(["propose", "--sample", str(sample), "--out", str(tmp_path / "mapping.yml")])
    assert "run `meltano invoke tap-practicehub:audit` first" in capsys.readouterr().out


def test_a_stream_mapped_by_hand_is_unclassified_until_confirmed(tmp_path, capsys):
    proposal = propose(None, practice())
    proposal["streams"]["treatment_summaries"] = {"target": "notes", "reason": "mapped by hand", "fields": {
        "id": {"target": "source_id", "reason": "id", "confidence": 1.0}}}
    path = tmp_path / "mapping.yml"
    path.write_text(dump(proposal), "utf-8")
    cli.main(["confirm", "--mapping", str(path)])
    assert "treatment_summaries (treatment_summaries): unclassified" in capsys.readouterr().out
    assert read_mapping(path)["confirmed"]["non_phi"] == ["treatment_summaries"]  # its id is no patient value
