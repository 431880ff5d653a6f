"""The mapping file drives the output, and nothing moves until it is confirmed unchanged."""

from __future__ import annotations

import json

import pytest
import yaml
from map_practicehub_pipedrive.mapping import MappingError, confirm, content_hash, default_mapping
from testkit.mapper_run import base_config, run_mapper, singer_lines, write_mapping
from testkit.practice import practice


def test_unconfirmed_mapping_is_refused_with_the_confirm_command(tmp_path):
    path = write_mapping(tmp_path, confirmed=False)
    with pytest.raises(MappingError) as refused:
        run_mapper(base_config(tmp_path, mapping_file=path), singer_lines(practice()))
    assert "is not confirmed" in refused.value.message
    assert f"map-practicehub-pipedrive confirm --mapping {path}" in refused.value.message


def test_changed_mapping_is_refused_until_confirmed_again(tmp_path):
    path = write_mapping(tmp_path)
    path.write_text(path.read_text().replace("Medical record number", "MRN (clinic)"))
    with pytest.raises(MappingError) as refused:
        run_mapper(base_config(tmp_path, mapping_file=path), singer_lines(practice()))
    assert "changed since it was confirmed by tester" in refused.value.message
    assert f"confirm --mapping {path}" in refused.value.message


def test_missing_mapping_file_says_how_to_make_one(tmp_path):
    with pytest.raises(MappingError) as refused:
        run_mapper(base_config(tmp_path, mapping_file=tmp_path / "none.yml"), [])
    assert "propose" in refused.value.message and "confirm --mapping" in refused.value.message


def test_confirm_keeps_the_text_and_replaces_an_old_mark(tmp_path):
    path = write_mapping(tmp_path)
    first = yaml.safe_load(path.read_text())["confirmed"]
    confirm(path, by="second-reviewer")
    text = path.read_text()
    assert text.count("confirmed:") == 1 and text.startswith("# Proposed by map-practicehub-pipedrive")
    data = yaml.safe_load(text)
    assert data["confirmed"]["sha256"] == first["sha256"] == content_hash(data)
    assert data["confirmed"]["by"] == "second-reviewer"


def test_invalid_field_type_is_reported(tmp_path):
    data = default_mapping()
    data["streams"]["patients"]["custom_fields"]["mrn"]["field_type"] = "datetime"
    path = tmp_path / "mapping.yml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(MappingError, match="field_type 'datetime' is not one of"):
        confirm(path)


def test_edits_to_the_file_change_the_output(tmp_path):
    """Rename a custom field label, send a field to skip, change a stage: re-confirm, see the output change."""
    data = default_mapping()
    patients = data["streams"]["patients"]
    patients["custom_fields"]["mrn"]["label"] = "Chart number"
    patients["fields"]["mobile"] = {"target": "skip", "reason": "clinic does not want mobiles in the CRM"}
    patients["fields"]["sex"] = {"target": "skip", "reason": "not needed"}
    data["streams"]["appointments"]["status_map"]["missed"] = {"stage": "Scheduled", "status": "lost",
                                                               "lost_reason": "No-show"}
    data["streams"]["appointments"]["title"] = "{type_name} on {start_date}"
    data["streams"]["clinical_notes"]["fields"]["data"] = {"target": "skip", "reason": "headings only"}
    output = run_mapper(base_config(tmp_path, mapping_file=write_mapping(tmp_path, data)), singer_lines(practice()))
    custom = output.schemas["persons"]["schema"]["properties"]["custom_fields"]["properties"]
    assert custom["mrn"]["x-pipedrive-field"]["name"] == "Chart number"
    assert "sex" not in custom
    alice = output.by_id("persons")["patients:101"]
    assert alice["phones"] == [] and "sex" not in alice["custom_fields"]
    missed = output.by_id("deals")["appointments:204"]
    assert (missed["stage"], missed["lost_reason"], missed["title"]) == (
        "Scheduled", "No-show", "Initial Consultation on 2024-04-10")
    assert output.by_id("notes")["clinical_notes:301"]["content"] == "<h3>SOAP (final)</h3>"


def test_a_stream_sent_to_skip_is_listed_as_skipped(tmp_path):
    data = default_mapping()
    data["streams"]["patient_packages"] = {"target": "skip", "reason": "not wanted"}
    output = run_mapper(base_config(tmp_path, mapping_file=write_mapping(tmp_path, data)), singer_lines(practice()))
    assert output.skipped()["patient_packages:901"] == "stream_skipped_by_mapping"


def test_an_unquoted_comma_in_a_flow_mapping_is_caught(tmp_path):
    path = write_mapping(tmp_path, confirmed=False)
    text = path.read_text().replace("reason: MRN (PHI)", "reason: MRN, the chart number")
    path.write_text(text if "MRN, the chart" in text else text + "\n")
    data = yaml.safe_load(path.read_text())
    data["streams"]["patients"]["custom_fields"]["mrn"]["the chart number"] = None
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(MappingError, match=r"unknown keys \['the chart number'\] \(quote text that contains commas\)"):
        confirm(path)


def test_organization_phone_and_email_as_top_level_targets_are_refused(tmp_path):
    """Pipedrive v2 organizations have no phone/email: an older mapping must not lose them silently."""
    data = default_mapping()
    data["streams"]["locations"]["fields"]["phone"] = {"target": "phone", "reason": "old mapping"}
    path = tmp_path / "mapping.yml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(MappingError, match="Pipedrive organizations have no 'phone' field; map it to "
                                           "custom_fields.phone with field_type phone"):
        confirm(path)


def test_an_organization_email_that_is_not_an_email_lands_the_clinic_without_it(tmp_path):
    records = practice()
    records["locations"][1]["email"] = "front desk"
    output = run_mapper(base_config(tmp_path), singer_lines(records))
    assert "locations:12" not in output.skipped()
    clinic = output.by_id("organizations")["locations:12"]
    assert clinic["custom_fields"]["email"] is None
    assert output.by_id("degraded")["locations:12"]["reason"] == "invalid_email"
    kept = output.by_id("notes")["locations:12#as-entered"]
    assert kept["org_source_id"] == "locations:12" and "front desk" in kept["content"]
    assert "front desk" not in json.dumps(output.records["degraded"])
