"""The tap's schemas accept every record the sandbox serves, and reject what the API never sends."""

from __future__ import annotations

import json
from importlib import resources

import jsonschema
import pytest
from practicehub_sandbox.data import generate
from testkit.tap_run import STREAM_ORDER


def _schema(stream: str) -> dict:
    return json.loads((resources.files("tap_practicehub") / "schemas" / f"{stream}.json").read_text())


@pytest.fixture(scope="module")
def demo_dataset():
    return generate("demo", 0)


@pytest.mark.parametrize("stream", STREAM_ORDER)
def test_schema_accepts_every_demo_record(stream, demo_dataset):
    validator = jsonschema.Draft7Validator(_schema(stream))
    records = demo_dataset[stream]
    assert records
    for record in records:
        errors = [e.message for e in validator.iter_errors(record)]
        assert not errors, f"{stream} id {record['id']}: {errors[:3]}"
        assert set(record) <= set(_schema(stream)["properties"]), set(record) - set(_schema(stream)["properties"])


def test_schemas_keep_api_representations():
    payments = _schema("payments")["properties"]
    assert payments["patient_id"]["type"] == ["string", "null"]
    assert payments["amount"]["type"] == ["string", "null"]
    patients = _schema("patients")["properties"]
    assert "format" not in patients["updated"] and patients["deleted"]["type"] == ["integer", "null"]
    validator = jsonschema.Draft7Validator(_schema("payments"))
    assert list(validator.iter_errors({"id": 1, "amount": 70.0}))  # money is a decimal string, not a float
