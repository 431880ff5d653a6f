"""Sample mode: a deterministic, representative slice without dangling references."""

from __future__ import annotations

import json

import pytest
from singer_sdk.exceptions import ConfigValidationError
from testkit.mapper_run import base_config, run_mapper, singer_lines
from testkit.synthetic import TYPES, generate


@pytest.fixture(scope="module")
def source():
    return generate(600, seed=7)


def test_sample_covers_every_type_and_status_without_dangling_references(tmp_path, source):
    output = run_mapper(base_config(tmp_path, sample_size=150, source_timezone="UTC"), singer_lines(source))
    deals = output.by_id("deals")
    assert 100 <= len(deals) <= 150
    assert {(d["pipeline"], d["status"]) for d in deals.values()} >= {
        (name, outcome) for name in TYPES for outcome in ("open", "won", "lost")}
    assert {d["stage"] for d in deals.values()} == {"Scheduled", "Arrived", "Completed"}
    persons, orgs = set(output.by_id("persons")), set(output.by_id("organizations"))
    for stream in ("deals", "activities", "notes", "files"):
        for record in output.records.get(stream, []):
            assert record["person_source_id"] in persons
            assert record.get("deal_source_id") in (None, *deals)
            assert record.get("org_source_id") in (None, *orgs)
    assert output.by_id("activities") and output.by_id("notes")
    assert not output.states  # a sample never advances the tap's bookmarks
    report = json.loads((tmp_path / "reports" / "reconciliation.json").read_text())
    assert report["balanced"] and report["streams"]["appointments"]["not_sampled"] > 0


def test_sample_is_deterministic(tmp_path, source):
    first = run_mapper(base_config(tmp_path / "a", sample_size=120), singer_lines(source))
    second = run_mapper(base_config(tmp_path / "b", sample_size=120), singer_lines(source))
    assert first.text == second.text


@pytest.mark.parametrize(("size", "problem"), [(5, "less than the minimum of 100"),
                                               (900, "greater than the maximum of 500")])
def test_sample_size_outside_100_to_500_is_refused(tmp_path, size, problem):
    with pytest.raises(ConfigValidationError) as refused:
        run_mapper(base_config(tmp_path, sample_size=size), [])
    assert refused.value.errors == [f"{size} is {problem} in config['sample_size']"]


def test_a_sample_after_a_preflight_run_on_the_same_state_stands_alone(tmp_path, source):
    """A full mapper run that never reached Pipedrive (preflight) leaves a state file; the sample must neither
    lean on it (its merge map would point deals at survivors outside the sample) nor change it."""
    config = base_config(tmp_path, source_timezone="UTC")
    run_mapper(config, singer_lines(source))  # the preflight: mapper only
    state = tmp_path / "reports" / "state" / "mapper_state.json"
    before = state.read_bytes()
    output = run_mapper({**config, "sample_size": 150}, singer_lines(source))
    assert state.read_bytes() == before
    persons, deals = set(output.by_id("persons")), set(output.by_id("deals"))
    for stream in ("deals", "activities", "notes", "files"):
        for record in output.records.get(stream, []):
            assert record["person_source_id"] in persons
            assert record.get("deal_source_id") in (None, *deals)


def test_a_sampled_patient_comes_with_every_patient_sharing_its_email(tmp_path):
    """De-duplication decides in the sample as in the full run: otherwise the sample lands a person that the
    full run folds into another, and it stays behind as a duplicate."""
    from map_practicehub_pipedrive.sample import select

    records = [("patients", {"id": 1, "email": "ann@example.com"}),
               ("patients", {"id": 2, "email": " ANN@example.com"}),
               ("patients", {"id": 3, "email": "other@example.com"}),
               ("appointments", {"id": 10, "patient_id": 2, "appointment_type_id": 1, "status": "pending"})]
    assert select(records, 100) == [True, True, False, True]
