"""De-duplication over real runs: tap-practicehub reads the PracticeHub sandbox, the mapper maps; a full run,
changes in PracticeHub, then a delta run from the tap's bookmarks."""

from __future__ import annotations

import copy
import json

import pytest
from testkit.mapper_run import as_tap_emits, base_config, run_mapper
from testkit.tap_run import run_tap, tap_config

data = pytest.importorskip("practicehub_sandbox.data", reason="practicehub_sandbox.data.generate not built yet")

STAMP = {"created": "2024-01-01 10:00:00", "updated": "2024-01-01 10:00:00"}
LATER = {"created": "2024-01-02 10:00:00", "updated": "2024-01-02 10:00:00"}


def patient(base: dict, pid: int, first: str, last: str, email: str, dob: str | None, stamp: dict) -> dict:
    return {**copy.deepcopy(base), "id": pid, "patient_number": str(pid), "first_name": first, "last_name": last,
            "email": email, "dob": dob, "deleted": 0, **stamp}


@pytest.fixture
def practice():
    """The tiny synthetic practice plus a family sharing an email, twins and one patient registered twice."""
    records = data.generate("tiny", 1)
    base = records["patients"][0]
    records["patients"] += [
        patient(base, 9001, "Maria", "Lopez", "lopez.family@example.com", "1980-02-03", STAMP),
        patient(base, 9002, "Diego", "Lopez", "lopez.family@example.com", "2012-05-06", LATER),
        patient(base, 9003, "Emma", "Hart", "hart.twins@example.com", "2010-01-01", STAMP),
        patient(base, 9004, "Ella", "Hart", "hart.twins@example.com", "2010-01-01", LATER),
        patient(base, 9005, "Zoë", "Müller", "zoe.mueller@example.com", "1990-04-05", STAMP),
        patient(base, 9006, "MULLER", " zoe ", " Zoe.Mueller@Example.com", "1990-04-05", LATER),
    ]
    visit = copy.deepcopy(records["appointments"][0])
    records["appointments"].append({**visit, "id": 9101, "patient_id": 9006, "status": "pending", **LATER})
    return records


def mapped_run(tmp_path, sandbox, mapper_config, name, state=None):
    tap = run_tap(tmp_path, tap_config(sandbox, download_files=False), state=state, name=name)
    assert tap.returncode == 0, tap.stderr[-2000:]
    lines = [json.dumps(message) for message in tap.messages]
    return run_mapper({**mapper_config, "run_id": name}, lines), tap.states[-1]


def test_merges_and_separations_hold_across_a_full_and_a_delta_run(practicehub_sandbox_factory, tmp_path, practice):
    sandbox = practicehub_sandbox_factory(as_tap_emits(practice))
    config = base_config(tmp_path)
    full, state = mapped_run(tmp_path, sandbox, config, "full")
    persons = full.by_id("persons")
    # The first of the two records the tap sends survives (the tap's order, not the ids').
    survivor, duplicate = ("patients:9005", "patients:9006") if "patients:9005" in persons else ("patients:9006",
                                                                                               "patients:9005")
    assert {"patients:9001", "patients:9002", "patients:9003", "patients:9004", survivor} <= set(persons)
    assert duplicate not in persons
    assert persons[survivor]["merged_source_ids"] == [duplicate]
    assert full.by_id("deals")["appointments:9101"]["person_source_id"] == survivor
    first = json.loads((tmp_path / "reports" / "dedupe-full.json").read_text())
    apart = {frozenset((row["source_id"], row["other_source_id"])): row["differs_on"] for row in first["kept_apart"]}
    assert apart[frozenset(("patients:9002", "patients:9001"))] == ["name"]
    assert apart[frozenset(("patients:9004", "patients:9003"))] == ["name"]

    # In PracticeHub: Ella's record is corrected to her twin's name (a typo, or the clinic's mistake), the merged
    # duplicate books again, and a third family member registers with the family's email.
    sandbox.patch_record("patients", 9004, {"first_name": "Emma"})
    sandbox.patch_record("patients", int(duplicate.split(":")[1]), {"mobile": "07700 900999"})
    base = practice["patients"][0]
    new = {key: value for key, value in patient(base, 0, "Sofia", "Lopez", "LOPEZ.family@example.com",
                                                "2015-09-10", LATER).items()
           if key not in ("id", "created", "updated")}
    sofia = sandbox.create_record("patients", new)["id"]
    delta, _ = mapped_run(tmp_path, sandbox, config, "delta", state=state)

    persons = delta.by_id("persons")
    assert duplicate not in persons  # still merged: no person of its own
    assert persons["patients:9004"]["merged_source_ids"] == []  # still apart: now the same name, not merged
    assert set(persons) >= {"patients:9004", f"patients:{sofia}"}
    assert persons[f"patients:{sofia}"]["merged_source_ids"] == []
    second = json.loads((tmp_path / "reports" / "dedupe-delta.json").read_text())
    assert [(row["source_id"], row["other_source_id"], row["matched_on"]) for row in second["review"]] == [
        ("patients:9004", "patients:9003", ["email", "name", "date_of_birth"])]
    assert {(row["source_id"], row["other_source_id"]) for row in second["kept_apart"]} == {
        (f"patients:{sofia}", "patients:9001"), (f"patients:{sofia}", "patients:9002")}
    assert second["merges"] == []
    whole = json.loads((tmp_path / "reports" / "dedupe.json").read_text())
    assert {"full", "delta"} <= set(whole["runs"])
    assert (duplicate, survivor) in {(m["merged_source_id"], m["survivor_source_id"]) for m in whole["merges"]}
    assert (tmp_path / "reports" / "dedupe-full.json").read_text() == json.dumps(first, indent=2) + "\n"
