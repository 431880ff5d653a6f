"""The target's second line: with the mapper's `x-phi` marks, PHI that must not go is neither created nor sent."""

from __future__ import annotations

import copy
import json

from testkit.target_contract import SCHEMAS, messages, write_singer
from testkit.target_run import live

EXCLUDE = {"policy": "exclude", "left_out_properties": {"persons": ["birthday"]},
           "left_out_streams": ["clinical_notes"]}


def _marked(data: dict, phi: dict) -> list[dict]:
    """The contract's messages with `x-phi` on every entity SCHEMA (what the mapper sends)."""
    out = messages(data)
    for message in out:
        if message["type"] == "SCHEMA" and message["stream"] != "skipped":
            message["schema"]["x-phi"] = copy.deepcopy(phi)
    return out


def _practice(harness) -> dict:
    data = harness.practice(n_persons=3)
    for number, person in enumerate(data["persons"], 1):
        person["birthday"] = f"1971-03-0{number}"  # a mapper bug: PHI it should have left out
    data["notes"][0]["source_id"] = "clinical_notes:77"
    data["notes"][0]["content"] = "<p>Sore knee</p>"
    return data


def test_under_exclude_phi_marked_fields_birthdays_and_left_out_streams_never_reach_pipedrive(harness, sandbox):
    data = _practice(harness)
    result = harness.run(write_singer(harness.workdir / "in.singer", _marked(data, EXCLUDE)))
    assert result.returncode == 0, result.stderr[-2000:]

    snapshot = sandbox.snapshot()
    field_names = {row["field_name"] for row in sandbox.get("/api/v2/personFields").json()["data"]}
    assert not {"Medical record number", "Date of birth"} & field_names  # PHI fields never created
    text = json.dumps({entity: live(snapshot, entity) for entity in ("persons", "notes")})
    assert "MRN-" not in text and "1971-03-0" not in text and "Sore knee" not in text
    assert len(live(snapshot, "notes")) >= len(data["notes"]) - 1  # the other notes went

    guard = result.summary["phi_guard"]
    assert guard["policies"]["persons"] == "exclude"
    assert guard["fields_not_created"]["persons"] == ["date_of_birth", "mrn"]
    assert guard["values_stripped"] == {"persons.birthday": 3, "persons.custom_fields.date_of_birth": 3,
                                        "persons.custom_fields.mrn": 3}
    assert guard["records_refused"] == {"notes from clinical_notes": 1}
    skips = [json.loads(line) for line in (harness.state_dir / "skipped.jsonl").read_text().splitlines()]
    assert [row["source_id"] for row in skips if row["reason"] == "phi_guard"] == ["clinical_notes:77"]
    assert result.summary["reconciles"]


def test_under_include_phi_marked_fields_go(harness, sandbox):
    data = _practice(harness)
    include = {"policy": "include", "left_out_properties": {}, "left_out_streams": []}
    result = harness.run(write_singer(harness.workdir / "in.singer", _marked(data, include)))
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.summary["phi_guard"]["values_stripped"] == {}
    fields = {row["field_name"] for row in sandbox.get("/api/v2/personFields").json()["data"]}
    assert "Medical record number" in fields
    assert "Sore knee" in json.dumps(live(sandbox.snapshot(), "notes"))


def test_without_marks_the_target_sends_what_it_is_given(harness):
    """Another tap's output, with no `x-phi` block, is not second-guessed (the contract's earlier form)."""
    assert "x-phi" not in SCHEMAS["persons"]["schema"]
    result = harness.run(harness.practice(n_persons=2))
    assert result.returncode == 0 and result.summary["phi_guard"]["policies"] == {}
