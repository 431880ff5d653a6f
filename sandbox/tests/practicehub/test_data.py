"""Generated datasets: deterministic, the right size, and as messy as a real clinic's."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
import unicodedata

import pytest
from practicehub_sandbox.data import generate, profile_counts
from practicehub_sandbox.data.generator import build_dataset
from practicehub_sandbox.data.mess import DELETED_APPOINTMENT_TYPE
from practicehub_sandbox.resources import (
    APPOINTMENT_STATUSES,
    ASSUMED_RESOURCES,
    REMINDER_STATUSES,
    RESOURCE_FIELDS,
)


@pytest.fixture(scope="module")
def demo():
    return generate("demo")


def _digest(dataset) -> str:
    return hashlib.sha256(json.dumps(dataset, sort_keys=True).encode()).hexdigest()


def test_same_seed_same_records_other_seed_other_records():
    assert build_dataset("demo", 5) == build_dataset("demo", 5)  # built twice, not read from the cache
    assert build_dataset("tiny", 5) != build_dataset("tiny", 6)


def test_records_are_the_same_in_another_process():
    """No dependence on hash randomisation or global random state."""
    script = (
        "import hashlib, json, random; random.seed(99); from practicehub_sandbox.data import generate;"
        "print(hashlib.sha256(json.dumps(generate('tiny', 5), sort_keys=True).encode()).hexdigest())"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60,
        env={**os.environ, "PYTHONHASHSEED": "12345"}, check=True,
    )
    assert result.stdout.strip() == _digest(build_dataset("tiny", 5))


def test_generate_returns_an_independent_copy():
    first = generate("tiny")
    first["patients"].clear()
    assert generate("tiny")["patients"]


def test_profile_sizes():
    tiny = generate("tiny")
    assert 120 <= sum(map(len, tiny.values())) <= 180
    assert all(tiny[r] for r in RESOURCE_FIELDS), "tiny has every resource"
    for profile, total in (("demo", 2_000), ("clinic-50k", 50_000)):
        counts = profile_counts(profile)
        # The assumed resources come on top, so adding them changed no other record.
        assert sum(n for r, n in counts.items() if r not in ASSUMED_RESOURCES) == total
        assert all(counts[r] for r in ASSUMED_RESOURCES)


@pytest.mark.slow
def test_clinic_50k_is_50000_records_and_quick_to_generate():
    started = time.monotonic()
    data = generate("clinic-50k", seed=1)
    elapsed = time.monotonic() - started
    assert abs(sum(len(data[r]) for r in data if r not in ASSUMED_RESOURCES) - 50_000) <= 500
    assert elapsed < 20


def test_records_have_the_documented_fields_and_conventions(demo):
    for resource, fields in RESOURCE_FIELDS.items():
        ids = [r["id"] for r in demo[resource]]
        assert len(ids) == len(set(ids)), resource
        for record in demo[resource]:
            assert tuple(record) == fields, resource
            assert isinstance(record["id"], int)
            assert record["created"] <= record["updated"], resource
    assert all(isinstance(p["patient_id"], str) for p in demo["payments"])
    assert {p["deleted"] for p in demo["patients"]} == {0, 1}
    assert all(len(p["custom_fields"]) == 8 for p in demo["patients"])
    assert all(v["value"] is None or isinstance(v["value"], str) for p in demo["patients"] for v in p["custom_fields"])


def test_every_status_and_state_is_present():
    tiny = generate("tiny")
    assert {a["status"] for a in tiny["appointments"]} == set(APPOINTMENT_STATUSES)
    assert {r["status"] for r in tiny["reminders"]} == set(REMINDER_STATUSES)
    assert any(f["entity_type"] == "clinical_note" for f in tiny["files"])
    assert len(tiny["locations"]) >= 3


def _scripts(names):
    found = set()
    for name in names:
        for char in name:
            if char.isalpha():
                found.add(unicodedata.name(char).split()[0])
    return found


def test_realistic_mess(demo):
    patients = demo["patients"]
    normalised = [p["email"].strip().lower() for p in patients if p["email"]]
    assert len(normalised) > len(set(normalised)), "duplicate emails differing in case or spaces"
    assert any(p["email"] and p["email"] != p["email"].strip() for p in patients)
    assert any(p["email"] is None for p in patients)
    assert any(p["dob"] is None for p in patients)
    names = [f"{p['first_name']} {p['last_name']}" for p in patients]
    assert {"CJK", "ARABIC", "HEBREW", "GREEK"} <= _scripts(names)
    assert any(any(unicodedata.decomposition(c) for c in n) for n in names), "accented names"
    assert any(a["fee"] is None for a in demo["appointments"])
    user_emails = {u["email"] for u in demo["users"]}
    practitioner_emails = [p["email"] for p in demo["practitioners"]]
    assert None in practitioner_emails
    assert any(e and e not in user_emails for e in practitioner_emails)
    assert any(e and e in user_emails for e in practitioner_emails)
    notes = {n["id"] for n in demo["clinical_notes"]}
    assert any(f["entity_type"] == "clinical_note" and f["entity_id"] in notes for f in demo["files"])
    for workflow in demo["workflows"]:
        assert workflow["trigger"]["event"] and workflow["actions"]
    assert any(w["trigger"]["conditions"] for w in demo["workflows"])
    carriers = {v["value"] for p in patients for v in p["custom_fields"] if v["name"] == "insurance_carrier"}
    assert carriers & {loc["name"] for loc in demo["locations"]}, "a carrier named like a location"
    assert {d["name"] for d in demo["patient_custom_fields"]} >= {"mrn", "insurance_carrier", "marketing_consent"}
    assert len({p["referral_source"] for p in patients} - {None}) <= 10


def test_references_point_at_existing_records(demo):
    ids = {resource: {r["id"] for r in rows} for resource, rows in demo.items()}
    deleted_types = 0
    for a in demo["appointments"]:
        assert a["patient_id"] in ids["patients"] and a["practitioner_id"] in ids["practitioners"]
        assert a["location_id"] in ids["locations"]
        if a["appointment_type_id"] == DELETED_APPOINTMENT_TYPE:
            deleted_types += 1  # the demo's mess: a type deleted in PracticeHub, its visits kept
        else:
            assert a["appointment_type_id"] in ids["appointment_types"]
    assert deleted_types == 2
    for p in demo["payments"]:
        assert int(p["patient_id"]) in ids["patients"] and p["invoice_id"] in ids["invoices"]
    for r in demo["reminders"]:
        assert r["appointment_id"] in ids["appointments"]
