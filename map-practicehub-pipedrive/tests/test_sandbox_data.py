"""The mapper on the PracticeHub sandbox's own synthetic practice (generate("tiny")), when it exists."""

from __future__ import annotations

import json

import pytest
from testkit.mapper_run import as_tap_emits, base_config, run_mapper, singer_lines

data = pytest.importorskip("practicehub_sandbox.data", reason="practicehub_sandbox.data.generate not built yet")
if not hasattr(data, "generate"):
    pytest.skip("practicehub_sandbox.data.generate not built yet", allow_module_level=True)


def test_tiny_profile_maps_and_reconciles(tmp_path):
    records = as_tap_emits(data.generate("tiny", 1))
    output = run_mapper(base_config(tmp_path), singer_lines(records))
    report = json.loads((tmp_path / "reports" / "reconciliation.json").read_text())
    assert report["balanced"], report
    for stream, rows in records.items():
        assert report["streams"].get(stream, {"in": 0})["in"] == len(rows)
    assert output.by_id("persons") and output.by_id("deals") and output.by_id("organizations")
    assert output.by_id("files") and output.by_id("activities") and output.by_id("notes")
    print(json.dumps({name: row.get("skip_reasons") for name, row in report["streams"].items()
                      if row.get("skip_reasons")}))
    persons, deals = set(output.by_id("persons")), set(output.by_id("deals"))
    for name in ("deals", "activities", "notes", "files"):
        for record in output.records.get(name, []):
            assert record["person_source_id"] in persons
            assert record.get("deal_source_id") in (None, *deals)
