"""The target checks every record against its own input contract (schemas/<stream>.json) before writing.

A record that breaks it is skipped with its stream, source id, property path and reason — never a value —
and the load goes on: no traceback, STATE and summary as for any other skip.
"""

from __future__ import annotations

import functools
import json
import subprocess
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator
from target_pipedrive import validation
from target_pipedrive.declared_schema import FIELD_TYPES
from target_pipedrive.validation import CONTRACT_STREAMS, StreamContract, readme_section, stream_schema
from testkit.target_contract import SCHEMAS, messages, write_singer
from testkit.target_run import TARGET, live

PLUGIN = Path(__file__).resolve().parents[1]
LEAKED_EMAIL = "leak.me.please@mail.example"
LEAKED_LIST_EMAIL = "second.leak@mail.example"
LEAKED_VALUE = "one hundred"


def _skips(harness) -> list[dict]:
    path = harness.state_dir / "skipped.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def _state_dir_text(harness) -> str:
    return "".join(p.read_text(errors="replace") for p in harness.state_dir.rglob("*")
                   if p.is_file() and p.suffix in (".json", ".jsonl", ".csv"))


def test_wrong_shaped_records_are_skipped_with_reasons_and_the_load_goes_on(harness):
    data = harness.practice()
    persons = data["persons"]
    persons[0]["emails"] = LEAKED_EMAIL  # a string, not a list of {value, primary, label}
    persons[1]["emails"] = [LEAKED_LIST_EMAIL]  # a list of strings
    del persons[2]["source_id"]
    data["deals"][3]["value"] = LEAKED_VALUE
    run = harness.run(data, in_process=False)  # the real command: its real stdout and stderr

    assert run.returncode == 0, run.stderr[-3000:]
    assert "Traceback" not in run.stderr
    for value in (LEAKED_EMAIL, LEAKED_LIST_EMAIL, LEAKED_VALUE):
        assert value not in run.stdout and value not in run.stderr
        assert value not in _state_dir_text(harness)

    refused = {(s["entity"], s["source_id"]): s for s in _skips(harness) if s["reason"] == "contract_violation"}
    assert set(refused) == {("persons", "patients:101"), ("persons", "patients:102"), ("persons", None),
                            ("deals", "treatment_plans:4")}
    assert refused[("persons", "patients:101")]["problems"] == [
        {"property": "emails", "reason": "wrong_type", "expected": "expected array or null, got string"}]
    assert refused[("persons", "patients:102")]["problems"] == [
        {"property": "emails[0]", "reason": "wrong_type", "expected": "expected object, got string"}]
    assert refused[("persons", None)]["problems"][0]["property"] == "source_id"
    assert refused[("persons", None)]["problems"][0]["reason"] == "missing_property"
    assert refused[("deals", "treatment_plans:4")]["problems"] == [
        {"property": "value", "reason": "wrong_type", "expected": "expected number or null, got string"}]

    lines = [line for line in run.stderr.splitlines() if "skipped by the input contract" in line]
    assert sorted(lines) == sorted([
        "target-pipedrive: 1 deals record(s) skipped by the input contract: value: wrong_type (expected number or"
        " null, got string)",
        "target-pipedrive: 1 persons record(s) skipped by the input contract: emails: wrong_type (expected array"
        " or null, got string)",
        "target-pipedrive: 1 persons record(s) skipped by the input contract: emails[]: wrong_type (expected"
        " object, got string)",
        "target-pipedrive: 1 persons record(s) skipped by the input contract: source_id: missing_property"
        " (required by the contract)",
    ])

    summary = run.summary
    assert summary["status"] == "completed" and summary["reconciles"]
    assert summary["streams"]["persons"]["received"] == 6 and summary["streams"]["persons"]["created"] == 3
    warnings = {(w["stream"], w["property"], w["reason"]): w["count"] for w in summary["warnings"]}
    assert warnings[("persons", "emails[]", "wrong_type")] == 1
    states = [json.loads(line) for line in run.stdout.splitlines() if line.startswith("{")]
    assert states[-1] == {"bookmarks": {"done": True}}  # a target emits the STATE value it was sent
    landed = {p["name"] for p in live(harness.sandbox.snapshot(), "persons")}
    assert {"Patient 4", "Patient 5", "Patient 6"} <= landed
    assert not {"Patient 1", "Patient 2", "Patient 3"} & landed


def test_numbers_and_booleans_sent_as_text_are_read_as_such(harness):
    """A CSV-like tap sends everything as text: "250.5", "true" and "" (null) are what the contract wants."""
    data = harness.practice()
    deal = data["deals"][0]
    deal.update(value="250.5", expected_close_date="", lost_reason="")
    data["activities"][1]["done"] = "true"
    run = harness.run(data)
    assert run.returncode == 0, run.stderr[-2000:]
    assert not [s for s in _skips(harness) if s["reason"] == "contract_violation"]
    landed = next(d for d in live(harness.sandbox.snapshot(), "deals") if d["title"] == deal["title"])
    assert landed["value"] == 250.5 and landed.get("expected_close_date") is None


def test_a_field_declaration_the_target_cannot_create_is_reported_and_the_load_goes_on(harness):
    data = harness.practice()
    msgs = messages(data)
    persons_schema = next(m for m in msgs if m["type"] == "SCHEMA" and m["stream"] == "persons")
    custom = persons_schema["schema"]["properties"]["custom_fields"]["properties"]
    custom["balance"]["x-pipedrive-field"]["field_type"] = "decimal"  # not a Pipedrive field type
    del custom["mrn"]["x-pipedrive-field"]["name"]
    run = harness.run(write_singer(harness.workdir / "bad-fields.singer", msgs), in_process=False)

    assert run.returncode == 0, run.stderr[-3000:]
    assert "Traceback" not in run.stderr
    assert ("target-pipedrive: persons custom field 'balance' not set up (x-pipedrive-field field_type is not one"
            " of varchar") in run.stderr
    assert "target-pipedrive: persons custom field 'mrn' not set up (x-pipedrive-field declaration needs name" \
        in run.stderr
    assert run.summary["streams"]["persons"]["created"] == 6
    labels = {f["field_name"] for f in harness.sandbox.snapshot()["fields"]["person"]}
    assert "Account balance" not in labels and "Patient status" in labels
    warnings = {(w["stream"], w["property"], w["reason"]) for w in run.summary["warnings"]}
    assert ("persons", "custom_fields.balance", "invalid_field_declaration") in warnings
    assert ("persons", "custom_fields.balance", "not_written") in warnings  # its values, counted by name


def test_records_missing_the_taps_own_key_properties_are_skipped_not_a_crash(harness):
    data = {"organizations": harness.practice()["organizations"]}
    data["organizations"][0]["clinic_id"] = 7  # the tap keys on clinic_id; the second record has none
    msgs = messages(data)
    msgs[0]["key_properties"] = ["clinic_id"]
    run = harness.run(write_singer(harness.workdir / "keys.singer", msgs), in_process=False)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "Traceback" not in run.stderr
    (skip,) = _skips(harness)
    assert skip["source_id"] == "businesses:2"
    assert skip["problems"] == [{"property": "clinic_id", "reason": "missing_key_property",
                                 "expected": "a value (a key property of the tap's SCHEMA)"}]
    assert run.summary["streams"]["organizations"]["created"] == 1


def test_a_dry_run_counts_bad_records_without_a_traceback(harness):
    data = harness.practice()
    data["persons"][0]["emails"] = LEAKED_EMAIL
    run = harness.run(data, in_process=False, dry_run=True)
    assert "Traceback" not in run.stderr and LEAKED_EMAIL not in run.stderr
    assert ("target-pipedrive: 1 persons record(s) skipped by the input contract: emails: wrong_type"
            in run.stderr)
    preflight = json.loads((harness.state_dir / "preflight.json").read_text())
    assert preflight["records"]["persons"] == 5


def test_the_preflight_command_plans_only_what_the_contract_admits_and_counts_the_rest(harness):
    data = harness.practice()
    data["persons"][0]["emails"] = LEAKED_EMAIL
    data["persons"][1]["emails"] = [LEAKED_LIST_EMAIL, LEAKED_LIST_EMAIL]  # two problems, one record, one class
    data["deals"][3]["value"] = LEAKED_VALUE
    data["deals"][2]["value"] = "250.5"  # text a CSV-like tap sends: read as the number, as the load does
    path = harness.input_file(data)
    mark = harness.log_mark()
    proc = harness.command("preflight", "--input", str(path))
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert harness.writes(mark) == []
    report_text = (harness.state_dir / "preflight.json").read_text()
    for value in (LEAKED_EMAIL, LEAKED_LIST_EMAIL, LEAKED_VALUE):
        assert value not in proc.stdout + proc.stderr and value not in report_text
    report = json.loads(report_text)
    assert report["records"]["persons"] == 4 and report["records"]["deals"] == 3
    assert report["planned_calls"]["persons"]["new"] == 4
    assert report["skipped_by_contract"] == {
        "deals": {"records": 1, "problems": [{"property": "value", "reason": "wrong_type",
                                              "expected": "expected number or null, got string", "records": 1}]},
        "persons": {"records": 2, "problems": [
            {"property": "emails", "reason": "wrong_type", "expected": "expected array or null, got string",
             "records": 1},
            {"property": "emails[]", "reason": "wrong_type", "expected": "expected object, got string",
             "records": 1}]},
    }
    assert "skipped by the input contract (not planned; reasons in the report): deals 1, persons 2" in proc.stderr
    assert ("target-pipedrive: 1 persons record(s) skipped by the input contract: emails[]: wrong_type"
            in proc.stderr)

    load = harness.run(path)  # the load skips exactly the records the preflight left out of its plan
    assert load.returncode == 0, load.stderr[-2000:]
    skipped = {(s["entity"], s["source_id"]) for s in _skips(harness) if s["reason"] == "contract_violation"}
    assert skipped == {("persons", "patients:101"), ("persons", "patients:102"), ("deals", "treatment_plans:4")}
    assert load.summary["streams"]["persons"]["created"] == 4


# ---- the contract itself (no sandbox) --------------------------------------------------------------------


@pytest.mark.parametrize("stream", CONTRACT_STREAMS)
def test_every_stream_has_a_valid_published_schema(stream):
    schema = stream_schema(stream)
    Draft202012Validator.check_schema(schema)
    assert schema["$id"] == f"target-pipedrive/schemas/{stream}.json"
    assert all(prop.get("description") or stream in ("skipped", "degraded") or name in ("first_name", "last_name",
                                                                                          "mime_type", "done",
                                                                                          "pinned")
               for name, prop in schema["properties"].items())


def test_the_transforms_output_fits_the_contract():
    """The test fixtures in the transform's contract (the mapper's shape) pass it unchanged."""
    data = _practice_without_files()
    for stream, records in data.items():
        contract = StreamContract(stream, SCHEMAS[stream]["schema"], SCHEMAS[stream]["key_properties"])
        for record in records:
            assert contract.problems(record) == [], (stream, record["source_id"])


def _practice_without_files():
    import tempfile
    from pathlib import Path

    from testkit.target_contract import build_practice

    with tempfile.TemporaryDirectory() as folder:
        return build_practice(Path(folder), "owner@example.test")


@pytest.mark.parametrize(("field_type", "value", "reason"), [
    ("double", "one hundred", "wrong_type"),
    ("date", "12 March 2024", "invalid_format"),
    ("set", {"not": "a list"}, "wrong_type"),
    ("org", {"source_id": "businesses:1", "email": "x@y.example"}, "unexpected_property"),
    ("enum", ["a", "b"], "wrong_type"),
])
def test_custom_field_values_are_checked_against_their_field_type(field_type, value, reason):
    schema = {"properties": {"custom_fields": {"properties": {
        "f": {"x-pipedrive-field": {"name": "F", "field_type": field_type}}}}}}
    contract = StreamContract("persons", schema)
    (problem,) = contract.problems({"source_id": "p:1", "custom_fields": {"f": value}})
    assert problem.reason == reason and problem.path.startswith("custom_fields.f")
    assert str(value) not in problem.expected and "x@y.example" not in json.dumps(problem.as_row())


def test_problem_wording_never_quotes_the_value():
    contract = StreamContract("deals")
    secret = "Jane Patient 1985-07-14"
    record = {"source_id": "d:1", "title": secret, "value": secret, "status": secret, "currency": secret,
              "expected_close_date": secret, "won_time": secret, "person_source_id": {"name": secret}}
    problems = contract.problems(record)
    assert {p.path for p in problems} == {"value", "status", "currency", "expected_close_date", "won_time",
                                          "person_source_id"}
    assert secret not in json.dumps([p.as_row() for p in problems])


def test_about_publishes_the_contract_and_the_readme_is_generated_from_it():
    about = subprocess.run([*TARGET, "--about", "--format", "json"], capture_output=True, text=True, timeout=60,
                           cwd=PLUGIN)
    assert about.returncode == 0, about.stderr
    published = json.loads(about.stdout)
    assert published["input_contract"]["streams"] == validation.contract()
    assert {"pipelines", "custom_fields", "schema_file", "unknown_options"} <= set(published["settings"]["properties"])
    text = subprocess.run([*TARGET, "--about"], capture_output=True, text=True, timeout=60, cwd=PLUGIN).stdout
    assert "Input contract" in text and "- deals: required source_id, title" in text
    readme = (PLUGIN / "README.md").read_text()
    assert readme_section() in readme, "run `python -m target_pipedrive.validation` to regenerate the README section"


_PERSONS_SCHEMA = json.dumps(SCHEMAS["persons"])
NOT_SINGER = [
    ([_PERSONS_SCHEMA, 'not json {"emails": "' + LEAKED_EMAIL + '"}'], "line 2 is not JSON"),
    ([_PERSONS_SCHEMA, json.dumps([{"type": "RECORD", "record": {"emails": LEAKED_EMAIL}}])],
     "line 2 is not a JSON object"),
    ([_PERSONS_SCHEMA, "", json.dumps({"type": "RECORD", "record": {"emails": LEAKED_EMAIL}})], "line 2 is not JSON"),
    ([json.dumps({"type": "SCHEMA", "stream": "persons", "schema": {"type": "object", "x": LEAKED_EMAIL}})],
     "line 1 lacks the required key(s) properties"),
    ([_PERSONS_SCHEMA, json.dumps({"type": "RECORD", "record": {"source_id": "p", "emails": LEAKED_EMAIL}})],
     "line 2 lacks the required key(s) stream"),
    ([json.dumps({"type": "RECORD", "stream": "persons", "record": {"source_id": "p", "emails": LEAKED_EMAIL}})],
     "A record for stream 'persons' was encountered before a corresponding schema"),
]


@pytest.mark.parametrize(("lines", "message"), NOT_SINGER)
def test_input_that_is_not_singer_stops_with_one_line_and_no_value(harness, lines, message):
    path = harness.workdir / "broken.singer"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    run = harness.run(path, in_process=False)
    assert run.returncode == 1
    assert "Traceback" not in run.stderr and LEAKED_EMAIL not in run.stderr + run.stdout
    (line,) = [line for line in run.stderr.splitlines() if line.startswith("target-pipedrive stopped")]
    assert line.startswith(f"target-pipedrive stopped: the input is not valid Singer: {message}")


@pytest.mark.parametrize(("lines", "message"), NOT_SINGER)
def test_the_preflight_command_reads_its_input_as_the_load_does(harness, lines, message):
    """Same reader as the load: one line naming the line (never its content), no plan, exit 2 (bad input)."""
    path = harness.workdir / "broken.singer"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    proc = harness.command("preflight", "--input", str(path))
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr and LEAKED_EMAIL not in proc.stderr + proc.stdout
    (line,) = [line for line in proc.stderr.splitlines() if line.startswith("target-pipedrive preflight")]
    assert line.startswith(f"target-pipedrive preflight: the input is not valid Singer: {message}")
    assert not (harness.state_dir / "preflight.json").exists()


_MARK = "Zq9"  # every generated text value starts with it: no schema wording does
_leaves = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False),
                    st.text(max_size=12).map(lambda text: _MARK + text))
_values = st.recursive(_leaves, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
    st.sampled_from(["value", "primary", "label", "source_id", "name", "x"]), inner, max_size=3), max_leaves=8)


@functools.cache
def _every_field_type(stream: str) -> StreamContract:
    schema = {"properties": {"custom_fields": {"properties": {
        kind: {"x-pipedrive-field": {"name": kind, "field_type": kind}} for kind in FIELD_TYPES}}}}
    return StreamContract(stream, schema, ["source_id", "external_id"])


@pytest.mark.parametrize("stream", CONTRACT_STREAMS)
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_any_record_is_checked_without_an_error_and_no_value_in_the_problems(stream, data):
    contract = _every_field_type(stream)
    names = [*stream_schema(stream)["properties"], "external_id", "extra"]
    record = data.draw(st.dictionaries(st.sampled_from(names), _values, max_size=8))
    if data.draw(st.booleans()):
        record["custom_fields"] = data.draw(st.dictionaries(st.sampled_from(FIELD_TYPES), _values, max_size=4))
    problems = contract.problems(contract.coerce(record))
    assert _MARK not in json.dumps([p.as_row() for p in problems])
