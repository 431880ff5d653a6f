"""Same email → one person; the merge map survives into delta runs; the report names ids only."""

from __future__ import annotations

import csv
import json

from tests.transform.helpers import base_config, run_mapper, singer_lines
from tests.transform.practice import appointment, patient, practice


def test_report_lists_each_merge_by_source_id(golden):
    rows = list(csv.DictReader((golden.reports / "dedupe.csv").open()))
    assert rows == [{"survivor_source_id": "patients:101", "merged_source_id": "patients:103",
                     "matched_on": "email"}]
    text = (golden.reports / "dedupe.csv").read_text() + (golden.reports / "dedupe.json").read_text()
    assert "alice" not in text.lower() and "Anders" not in text


def test_state_file_holds_no_patient_data(golden):
    state = (golden.reports / "state" / "mapper_state.json").read_text()
    for secret in ("alice@example.com", "Anders", "MRN-101", "1985-07-14"):
        assert secret not in state


def test_delta_run_sends_a_merged_patients_new_appointment_to_the_survivor(tmp_path):
    config = base_config(tmp_path)
    run_mapper(config, singer_lines(practice()))
    delta = {"appointments": [appointment(250, 103, "pending")],
             "reminders": [{"id": 550, "appointment_id": 250, "patient_id": 103, "type": "recall",
                            "send_at": "2024-05-01 09:00:00", "status": "pending", "channel": "email"}]}
    output = run_mapper(config, singer_lines(delta))
    assert output.by_id("deals")["appointments:250"]["person_source_id"] == "patients:101"
    assert output.by_id("deals")["appointments:250"]["owner_email"] == "paul@harbourphysio.example"
    assert output.by_id("activities")["reminders:550"]["deal_source_id"] == "appointments:250"


def test_delta_run_merges_a_new_duplicate_into_the_earlier_survivor(tmp_path):
    config = base_config(tmp_path)
    run_mapper(config, singer_lines(practice()))
    output = run_mapper(config, singer_lines({"patients": [patient(120, "Al", "Anders", "Alice@example.com")]}))
    assert "persons" not in output.records  # the survivor was not in this run: nothing to re-send
    report = json.loads((tmp_path / "reports" / "reconciliation.json").read_text())
    assert report["streams"]["patients"]["merged"] == 1
    output = run_mapper(config, singer_lines({"patients": [patient(101, "Alice", "Anders", "alice@example.com")]}))
    assert output.by_id("persons")["patients:101"]["merged_source_ids"] == ["patients:103", "patients:120"]
