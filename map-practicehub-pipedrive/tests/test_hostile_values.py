"""Hostile values in every field of every mapped stream: the record lands, and what could not land as it
is, is reported at field level without the value."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from map_practicehub_pipedrive.mapping import default_mapping
from testkit.mapper_run import base_config, run_mapper, singer_lines
from testkit.practice import practice

ENTITY_STREAMS = ("organizations", "persons", "deals", "activities", "notes", "files")
# Fields whose value decides whether the record can exist (identity, parent, deletion): not hostile-tested.
STRUCTURAL = {"id", "patient_id", "appointment_id", "invoice_id", "entity_id", "entity_type", "deleted",
              "local_path", "sha256", "download_error", "practitioner_id", "location_id", "user_id"}
MAPPED = [name for name, entry in default_mapping()["streams"].items()
          if entry["target"] in ENTITY_STREAMS and name in practice()]  # the golden practice's streams
# Values that do not convert, each with a marker so a leak of the value is detectable.
INVALID = ["not-an-email ZQX1", "31/31/2024 ZQX2", "twelve dollars ZQX3", "ZQX4 next tuesday"]
CONTROL = ["ZQX5\x00with NUL", "ZQX6\x07bell\x1b[0m"]
OVERLONG = ["ZQX7" + "y" * 300, "ZQX8" + "<b>&amp;</b>" * 10000]
SHAPES = [["ZQX9", "list"], {"ZQX10": "dict"}, 12345, -1.5, True, "", "   ", "🙂 ZQX11 ünïcödé"]
HOSTILE = INVALID + CONTROL + OVERLONG + SHAPES


def typed_fields() -> dict[str, set[str]]:
    """Per stream, source fields the default mapping converts to a type (email, date, number, datetime)."""
    typed: dict[str, set[str]] = {}
    for name in MAPPED:
        entry = default_mapping()["streams"][name]
        for source, raw in (entry.get("fields") or {}).items():
            for rule in raw if isinstance(raw, list) else [raw]:
                target, kind = str(rule["target"]), rule.get("field_type")
                if (target.startswith("emails.") or target in ("birthday", "expected_close_date", "won_time",
                                                                "lost_time", "value")
                        or kind in ("date", "double", "monetary") or rule.get("format") in ("email", "iso8601_utc")):
                    typed.setdefault(name, set()).add(source)
    return typed


TYPED = typed_fields()
TYPED["appointments"] -= {"end", "cancelDate"}  # read only for won or lost visits; the first one is pending


@st.composite
def hostile_practice(draw):
    records = practice()
    stream = draw(st.sampled_from(MAPPED))
    record = records[stream][0]
    field = draw(st.sampled_from(sorted(set(record) - STRUCTURAL)))
    value = draw(st.sampled_from(HOSTILE))
    record[field] = value
    return records, stream, record["id"], field, value


@settings(max_examples=120, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(case=hostile_practice())
def test_a_hostile_value_degrades_only_that_value(case):
    records, stream, record_id, field, value = case
    with tempfile.TemporaryDirectory() as folder:
        output = run_mapper(base_config(Path(folder)), singer_lines(records))
        report = json.loads((Path(folder) / "reports" / "reconciliation.json").read_text())
    source_id = f"{stream}:{record_id}"
    assert report["balanced"]
    assert source_id not in output.skipped(), f"{source_id} skipped for a hostile {field}"
    landed = {r["source_id"] for name in ENTITY_STREAMS for r in output.records.get(name, [])}
    merged = {sid for r in output.records.get("persons", []) for sid in r.get("merged_source_ids") or []}
    assert source_id in landed or source_id in merged
    degraded = {(r["source_id"], r["field"]) for r in output.records.get("degraded", [])}
    fields_of_record = {name for sid, name in degraded if sid == source_id}
    if value in CONTROL:
        assert f"{stream}.{field}" in fields_of_record
    if value in INVALID and field in TYPED.get(stream, set()):
        assert fields_of_record, f"{source_id}.{field}: an invalid value was not reported"
    reports = json.dumps(output.records.get("degraded", []) + output.records.get("skipped", []))
    assert "ZQX" not in reports  # field names and reasons only, never the value
    assert "\\u0000" not in output.text and "\\u0007" not in output.text
    for record in output.records.get("notes", []):
        assert len(record["content"]) <= 100000
