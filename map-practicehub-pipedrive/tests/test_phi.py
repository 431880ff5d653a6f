"""The PHI gate: refuse by default, exclude PHI on request, include it only under a BAA."""

from __future__ import annotations

import json

import pytest
from map_practicehub_pipedrive.phi import PhiPolicyError
from testkit.mapper_run import base_config, run_mapper, singer_lines
from testkit.practice import practice


def test_refuse_is_the_default_and_says_how_to_fix(tmp_path):
    config = base_config(tmp_path)
    del config["phi_policy"]
    with pytest.raises(PhiPolicyError) as refused:
        run_mapper(config, singer_lines(practice()))
    message = refused.value.message
    assert "phi_policy is 'refuse'" in message and "'exclude'" in message and "baa_reference" in message
    assert "patients.dob" in message


def test_include_without_baa_is_refused(tmp_path):
    with pytest.raises(PhiPolicyError, match="baa_reference is empty"):
        run_mapper(base_config(tmp_path, baa_reference="  "), singer_lines(practice()))


def test_exclude_leaves_phi_out_and_counts_what_it_skipped(tmp_path):
    output = run_mapper(base_config(tmp_path, phi_policy="exclude", baa_reference=None), singer_lines(practice()))
    alice = output.by_id("persons")["patients:101"]
    assert alice["birthday"] is None
    assert not {"mrn", "insurance_carrier", "insurance_carrier_org", "patient_number", "conditions"} & set(
        alice["custom_fields"])
    fields = output.schemas["persons"]["schema"]["properties"]["custom_fields"]["properties"]
    assert not [name for name, spec in fields.items() if spec["x-pipedrive-field"]["phi"]]
    skipped = output.skipped()
    assert {sid: reason for sid, reason in skipped.items() if reason == "phi_excluded"} == {
        "clinical_notes:301": "phi_excluded", "clinical_notes:302": "phi_excluded", "files:401": "phi_excluded",
        "care_plans:1001": "phi_excluded", "custom_form_responses:1201": "phi_excluded"}
    # The appointment's free-text note is PHI; the no-fee line is not.
    assert output.by_id("notes")["appointments:203"]["content"] == (
        "<p>No fee recorded in PracticeHub (appointment type: Follow-up).</p>")
    reconciliation = json.loads((tmp_path / "reports" / "reconciliation.json").read_text())
    assert reconciliation["balanced"] and reconciliation["streams"]["clinical_notes"]["skip_reasons"] == {
        "phi_excluded": 2}


def test_include_with_baa_carries_phi(golden):
    assert golden.by_id("persons")["patients:101"]["custom_fields"]["mrn"] == "MRN-101"
    assert "clinical_notes:301" in golden.by_id("notes")
