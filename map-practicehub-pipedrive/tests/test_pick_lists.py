"""A pick-list whose first values are blank still becomes one enum field in Pipedrive (seed 11 of `tiny`).

Pipedrive cannot create an enum field without options, so a pick-list the run has no label for yet is
declared in the persons SCHEMA without `x-pipedrive-field`; the SCHEMA sent before its first label
describes it, with that label, and the target creates it then, as an enum.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from testkit.mapper_run import base_config, run_mapper, singer_lines
from testkit.practice import practice

TARGET = [sys.executable, "-c", "from target_pipedrive.target import main; main()"]
ADMIN_EMAIL = "admin@sandbox-clinic.test"  # a user of the sandbox's accounts


def _blank_first(tmp_path):
    """The golden practice with no referral source on its first patient (101); 102 says Friend, 103 Google."""
    records = practice()
    records["patients"][0]["referral_source"] = None
    return run_mapper(base_config(tmp_path), singer_lines(records))


def _persons_schemas_and_records(output) -> list[tuple[dict, dict]]:
    """Each persons RECORD with the persons SCHEMA in force when it was sent."""
    current, pairs = None, []
    for message in output.messages:
        if message.get("stream") != "persons":
            continue
        if message["type"] == "SCHEMA":
            current = message["schema"]["properties"]["custom_fields"]["properties"]
        elif message["type"] == "RECORD":
            pairs.append((current, message["record"]))
    return pairs


def test_a_pick_list_without_labels_yet_is_declared_and_described_with_its_first_label(tmp_path):
    pairs = _persons_schemas_and_records(_blank_first(tmp_path))
    first_fields, first = pairs[0]
    assert first["source_id"] == "patients:101" and first["custom_fields"]["referral_source"] is None
    assert first_fields["referral_source"] == {"type": ["string", "null"]}  # declared, no field to create yet
    for name, spec in first_fields.items():  # nothing the target would turn into a varchar
        described = spec.get("x-pipedrive-field") or {}
        if described.get("field_type") in ("enum", "set"):
            assert described["options"], name
    fields, second = pairs[1]
    assert second["custom_fields"]["referral_source"] == "Friend"
    assert fields["referral_source"]["x-pipedrive-field"] == {
        "name": "Referral source", "field_type": "enum", "options": ["Friend"], "phi": False}


@pytest.mark.slow
def test_the_target_creates_one_enum_field_and_selects_its_options(tmp_path, pipedrive_sandbox_factory):
    sandbox = pipedrive_sandbox_factory(plan="premium", seats=3, fixture="empty")
    output = _blank_first(tmp_path)
    config = tmp_path / "target.json"
    config.write_text(json.dumps({"api_token": sandbox.api_token, "base_url": sandbox.base_url,
                                  "fallback_owner_email": ADMIN_EMAIL, "state_dir": str(tmp_path / "state"),
                                  "plan": "premium", "seats": 3, "request_timeout": 10}))
    loaded = subprocess.run([*TARGET, "--config", str(config)], input=output.text, capture_output=True, text=True,
                            timeout=90)
    assert loaded.returncode == 0, loaded.stderr[-2000:]
    assert "declares no options" not in loaded.stderr

    fields = sandbox.walk("/api/v2/personFields", "cursor")
    referral = [row for row in fields if row["field_name"] == "Referral source"]
    assert [row["field_type"] for row in referral] == ["enum"]  # one field, a pick-list
    option_ids = {option["label"]: option["id"] for option in referral[0]["options"]}
    assert set(option_ids) == {"Friend", "Google"}  # Google: from 103, merged into 101 (101's values stand)
    source_key = next(row["field_code"] for row in fields if row["field_name"] == "PracticeHub ID")
    chosen = {person["custom_fields"][source_key]: person["custom_fields"].get(referral[0]["field_code"])
              for person in sandbox.walk("/api/v2/persons", "cursor")}
    assert chosen == {"patients:101": None, "patients:102": option_ids["Friend"]}
