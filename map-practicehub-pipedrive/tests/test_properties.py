"""Properties over generated PracticeHub-like records: counts reconcile, no reference dangles, same input
gives byte-identical output."""

from __future__ import annotations

import copy
import json
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from testkit.mapper_run import base_config, run_mapper, singer_lines, write_mapping
from testkit.practice import STAMP, appointment, practice

EMAILS = ["a@example.com", " A@Example.com", "b@example.com", "c@example.com", "not-an-email", None]
DATES = ["1980-01-02", None, "02/01/1980", "2000-02-30"]
STATUSES = ["pending", "arrived", "processed", "missed", "cancelled", "unknown"]
ENTITY_STREAMS = ("organizations", "persons", "deals", "activities", "notes", "files")


@st.composite
def practices(draw):
    base = practice()
    patient_ids = draw(st.lists(st.integers(1, 30), max_size=10, unique=True))
    patients = []
    for pid in patient_ids:
        template = dict(base["patients"][0])
        template.update(id=pid, email=draw(st.sampled_from(EMAILS)), dob=draw(st.sampled_from(DATES)),
                        first_name=draw(st.sampled_from(["Ann", "", None, "Zed"])),
                        last_name=draw(st.sampled_from(["Lee", "", None])),
                        referral_source=draw(st.sampled_from(["Google", "Friend", None, "TikTok"])),
                        location_id=draw(st.sampled_from([11, 12, 99, None])))
        patients.append(template)
    appointments = [
        appointment(aid, draw(st.integers(1, 32)), draw(st.sampled_from(STATUSES)),
                    type_id=draw(st.sampled_from([41, 42, 43])), fee=draw(st.sampled_from(["10.00", None, "x"])),
                    practitioner_id=draw(st.sampled_from([31, 32, 33, None])))
        for aid in draw(st.lists(st.integers(100, 140), max_size=12, unique=True))]
    reminders = [{"id": rid, "appointment_id": draw(st.integers(100, 142)), "patient_id": draw(st.integers(1, 32)),
                  "type": draw(st.sampled_from(["recall", "follow_up_call", "other"])),
                  "send_at": draw(st.sampled_from(["2024-04-09 09:00:00", "soon"])), "status": "sent",
                  "channel": "sms", **STAMP}
                 for rid in draw(st.lists(st.integers(500, 520), max_size=6, unique=True))]
    notes = [{"id": nid, "patient_id": draw(st.integers(1, 32)),
              "appointment_id": draw(st.one_of(st.none(), st.integers(100, 142))), "practitioner_id": 31,
              "type": "SOAP", "state": "final", "data": {"soap_data": [{"key": "S", "val": "<p>x</p>"}]}, **STAMP}
             for nid in draw(st.lists(st.integers(300, 320), max_size=6, unique=True))]
    files = [{"id": fid, "patient_id": draw(st.integers(1, 32)),
              "entity_type": draw(st.sampled_from(["patient", "appointment", "clinical_note"])),
              "entity_id": draw(st.integers(100, 320)), "file_name": draw(st.sampled_from(["a.pdf", None])),
              "mime_type": "application/pdf", "size": 10,
              "local_path": draw(st.sampled_from(["/tmp/a.pdf", None])), **STAMP}
             for fid in draw(st.lists(st.integers(400, 410), max_size=4, unique=True))]
    invoices = [{"id": iid, "patient_id": draw(st.integers(1, 32)),
                 "appointment_id": draw(st.one_of(st.none(), st.integers(100, 142))), "number": f"INV-{iid}",
                 "status": "paid", "total": "10.00", **STAMP}
                for iid in draw(st.lists(st.integers(700, 706), max_size=4, unique=True))]
    payments = [{"id": pid, "patient_id": str(draw(st.integers(1, 32))), "invoice_id": draw(st.integers(700, 707)),
                 "amount": "10.00", "payment_type_id": 1, "service": "x", "note": None, **STAMP}
                for pid in draw(st.lists(st.integers(800, 806), max_size=4, unique=True))]
    base.update(patients=patients, appointments=appointments, reminders=reminders, clinical_notes=notes,
                files=files, invoices=invoices, payments=payments)
    return base


@st.composite
def deltas(draw):
    """A first run's input, then a delta: some of the same records again, some now invalid (an unknown
    status, a deleted patient, a long invoice), with their children sent again."""
    first = draw(practices())
    golden = practice()  # a valid core, so the delta has parents that the first run did migrate
    for stream in ("patients", "appointments", "reminders", "clinical_notes", "files", "invoices", "payments"):
        taken = {record["id"] for record in golden[stream]}
        first[stream] = golden[stream] + [record for record in first[stream] if record["id"] not in taken]
    second = copy.deepcopy(first)
    for record in second["appointments"]:
        record["status"] = draw(st.sampled_from([record["status"], "unknown"]))
    for record in second["patients"]:
        record["deleted"] = draw(st.sampled_from([0, 1]))
    for record in second["invoices"]:
        record["appointment_id"] = draw(st.sampled_from([record["appointment_id"], *range(100, 104)]))
        record["total"] = draw(st.sampled_from([record["total"], "9" * 100001]))
    for stream in ("patients", "appointments", "reminders", "clinical_notes", "files", "invoices", "payments"):
        second[stream] = [record for record in second[stream] if draw(st.booleans())]
    return first, second


@pytest.fixture(scope="module")
def mapping_file(tmp_path_factory):
    return write_mapping(tmp_path_factory.mktemp("mapping"))


def run_in_fresh_dir(mapping_file: Path, records: dict):
    with tempfile.TemporaryDirectory() as folder:
        config = base_config(Path(folder), mapping_file=mapping_file)
        output = run_mapper(config, singer_lines(records))
        report = json.loads((Path(folder) / "reports" / "reconciliation.json").read_text())
    return output, report


PROPERTY_SETTINGS = settings(max_examples=25, deadline=None, derandomize=True,
                             suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                    HealthCheck.too_slow])


@PROPERTY_SETTINGS
@given(records=practices())
def test_counts_reconcile(mapping_file, records):
    output, report = run_in_fresh_dir(mapping_file, records)
    assert report["balanced"]
    for stream, rows in records.items():
        row = report["streams"].get(stream, {"in": 0, "out": 0, "skipped": 0})
        assert row["in"] == len(rows)
        skipped = [r for r in output.records.get("skipped", []) if r["source_stream"] == stream]
        assert row["skipped"] == len(skipped)
        # "#as-entered" notes and "#part-N" of split notes belong to a record counted by its own entity.
        emitted = {r["source_id"] for name in ENTITY_STREAMS for r in output.records.get(name, [])
                   if r["source_id"].startswith(f"{stream}:") and "#" not in r["source_id"]
                   and not (stream == "appointments" and name == "notes")}
        assert row["out"] == len(emitted)


REFERENCES = {"person_source_id": "persons", "deal_source_id": "deals", "org_source_id": "organizations"}


def references(record: dict):
    """(key, target stream, source id) of every reference a record makes, custom `org` fields included."""
    for key, stream in REFERENCES.items():
        if record.get(key) is not None:
            yield key, stream, record[key]
    for logical, value in record["custom_fields"].items():
        if isinstance(value, dict) and value.get("source_id") is not None:
            yield f"custom_fields.{logical}", "organizations", value["source_id"]


@PROPERTY_SETTINGS
@given(runs=deltas())
def test_no_dangling_references(mapping_file, runs):
    """A full run, then a delta run on the same state: every reference names an entity emitted by the same run
    or by the earlier one (known from the persisted state), and never a record the same run skipped."""
    with tempfile.TemporaryDirectory() as folder:
        config = base_config(Path(folder), mapping_file=mapping_file)
        runs = [run_mapper(config, singer_lines(records)) for records in runs]
    known: dict[str, set[str]] = {name: set() for name in ENTITY_STREAMS}
    for output in runs:
        for name in ENTITY_STREAMS:
            known[name] |= set(output.by_id(name))
        skipped = set(output.skipped())
        for name in ENTITY_STREAMS:
            for record in output.records.get(name, []):
                for key, stream, target in references(record):
                    assert target in known[stream], f"{record['source_id']}.{key} -> {target} was never emitted"
                    assert target not in skipped, f"{record['source_id']}.{key} -> {target}, skipped by this run"
                if name == "deals":
                    assert record["person_source_id"] is not None


@PROPERTY_SETTINGS
@given(records=practices())
def test_same_input_gives_byte_identical_output(mapping_file, records):
    first, _ = run_in_fresh_dir(mapping_file, records)
    second, _ = run_in_fresh_dir(mapping_file, records)
    assert first.text == second.text
