"""Pure pieces: token costs from the official specs, the verify comparator, the update diff, budgets."""

from __future__ import annotations

import pytest
from target_pipedrive.client import daily_budget
from target_pipedrive.costs import BUILTIN_COSTS, CostTable
from target_pipedrive.delta import diff as _diff
from target_pipedrive.verify import values_match
from testkit import SPEC_DIR


@pytest.fixture
def spec_costs() -> CostTable:
    if not (SPEC_DIR / "v2.yaml").exists():
        pytest.skip(f"Pipedrive specs not found at {SPEC_DIR} (the shared folder sits beside the checkout in CI)")
    return CostTable.from_openapi_dir(str(SPEC_DIR))


def test_builtin_cost_table_matches_the_official_specs(spec_costs):
    for (version, method, path), cost in BUILTIN_COSTS.items():
        assert spec_costs.cost(version, method, path) == cost, (version, method, path)


def test_costs_of_concrete_paths(spec_costs):
    assert spec_costs.cost("v2", "POST", "/persons") == 5
    assert spec_costs.cost("v2", "PATCH", "/deals/123") == 5
    assert spec_costs.cost("v2", "DELETE", "/personFields/" + "a" * 40) == 3
    assert spec_costs.cost("v2", "GET", "/itemSearch/field") == 20
    assert spec_costs.cost("v1", "POST", "/notes") == 10
    assert spec_costs.cost("v1", "GET", "/users") == 20


def test_daily_budget_follows_plan_and_seats():
    assert daily_budget("lite", 3) == 90_000
    assert daily_budget("ultimate", 2) == 420_000


@pytest.mark.parametrize(
    ("sent", "actual", "same"),
    [
        (100.0, 100, True),
        ("2026-01-01T10:00:00Z", "2026-01-01T10:00:00+00:00", True),
        ([3, 1], [1, 3], True),
        ([{"value": "a@x.test", "primary": True}], [{"value": "a@x.test", "primary": True, "label": "work"}], True),
        ({"value": "1 Main St", "locality": "Town"}, {"value": "1 Main St", "locality": "Town", "country": None}, True),
        (5, {"id": 5, "name": "Org"}, True),
        ("MRN-1", "MRN-2", False),
        ([1], [1, 2], False),
        (True, False, False),
    ],
)
def test_verify_comparator(sent, actual, same):
    assert values_match(sent, actual) is same


def test_update_diff_sends_only_changes_and_clears_removed_values():
    previous = {"title": "A", "value": 1, "custom_fields": {"k1": "x", "k2": "y"}, "lost_reason": "r"}
    payload = {"title": "A", "value": 2, "custom_fields": {"k1": "x"}}
    assert _diff("deals", previous, payload) == ({"value": 2, "custom_fields": {"k2": None}, "lost_reason": None}, [])


def test_update_diff_empties_each_key_the_way_its_schema_allows():
    previous = {"name": "P", "org_id": 4, "owner_id": 1, "emails": [{"value": "a@x.test"}], "phones": [{"value": "1"}],
                "postal_address": {"value": "1 High St"}, "birthday": "1980-01-02"}
    patch, kept = _diff("persons", previous, {"name": "P", "owner_id": 1})
    # null only where the spec allows it: [] for arrays, an empty address, "" for text; an id has no empty value
    assert patch == {"emails": [], "phones": [], "postal_address": {"value": ""}, "birthday": ""}
    assert kept == ["org_id"]
    patch, kept = _diff("activities", {"subject": "S", "deal_id": 3, "participants": [{"person_id": 1}],
                                       "note": "n", "done": True}, {"subject": "S"})
    assert patch == {"participants": [], "note": ""} and kept == ["deal_id", "done"]


def test_group_commit_keeps_every_concurrent_write_durable(tmp_path):
    from concurrent.futures import ThreadPoolExecutor

    from target_pipedrive.ledger import Ledger, Manifest

    ledger, manifest = Ledger(tmp_path / "ledger.sqlite"), Manifest(tmp_path / "manifest.jsonl")

    def land(i: int) -> None:
        ledger.mark_pending("persons", f"patients:{i}", "r1")
        manifest.append({"op": "create", "type": "persons", "id": i, "run_id": "r1"})
        ledger.mark_done("persons", f"patients:{i}", i, {"name": f"n{i}"}, "r1")

    with ThreadPoolExecutor(max_workers=16) as pool:
        list(pool.map(land, range(300)))
    # Every call has returned, so every write is committed: a second connection (which sees only
    # committed rows) finds them all while the first still holds its connection open.
    reopened = Ledger(tmp_path / "ledger.sqlite")
    assert reopened.counts() == {"persons": 300}
    assert reopened.pipedrive_id("persons", "patients:299") == 299
    assert sorted(e["id"] for e in Manifest(tmp_path / "manifest.jsonl").entries()) == list(range(300))
    ledger.close()
    reopened.close()


def test_read_landed_reads_done_rows_only_and_never_writes(tmp_path):
    import sqlite3

    from target_pipedrive.ledger import Ledger
    read_landed = Ledger.read_landed

    ledger = Ledger(tmp_path / "ledger.sqlite")
    ledger.mark_done("persons", "patients:1", 7, {"name": "A"}, "run-1", origin="preexisting")
    ledger.mark_pending("persons", "patients:2", "run-1")
    ledger.close()
    assert read_landed(tmp_path / "ledger.sqlite") == [("persons", "patients:1", "preexisting", "run-1", 7)]
    with pytest.raises(FileNotFoundError):
        read_landed(tmp_path / "none.sqlite")
    (tmp_path / "other.sqlite").write_bytes(b"not a database at all, but long enough to be read as a header")
    with pytest.raises(sqlite3.Error):
        read_landed(tmp_path / "other.sqlite")


def test_the_landed_index_finds_a_record_its_parts_and_what_hangs_on_them_without_their_payloads(tmp_path):
    from target_pipedrive.ledger import Ledger
    from target_pipedrive.source_deletions import LandedIndex
    from target_pipedrive.team_work import ENTITY_STREAMS

    ledger = Ledger(tmp_path / "ledger.sqlite")
    ledger.mark_done("persons", "patients:7", 70, {"name": "A"}, "run-1")
    ledger.mark_done("persons", "patients:7#as-entered", 71, {"name": "A, as entered"}, "run-1")
    ledger.mark_done("persons", "patients:70", 700, {"name": "B"}, "run-1")
    ledger.mark_done("deals", "appointments:1", 5, {"title": "Visit", "person_id": 70}, "run-2")
    ledger.mark_done("notes", "clinical_notes:1", 9, {"content": "x", "deal_id": 5}, "run-2")
    ledger.mark_pending("persons", "patients:8", "run-2")
    assert ledger.has_landed_from(ENTITY_STREAMS, "patients:7")
    assert not ledger.has_landed_from(ENTITY_STREAMS, "patients:8")  # pending: may never have landed
    assert not ledger.has_landed_from(ENTITY_STREAMS, "patients:")
    assert list(ledger.landed_links(("deals",), chunk=1)) == [
        ("deals", "appointments:1", 5, "created", "run-2", {"title": "Visit", "person_id": 70})]
    index = LandedIndex(ledger)
    found = {(e["type"], e["id"]): e for e in index.of("patients:7")}
    assert set(found) == {("persons", 70), ("persons", 71), ("deals", 5), ("notes", 9)}
    assert found[("deals", 5)] == {"type": "deals", "id": 5, "source_id": "appointments:1", "origin": "created",
                                   "run_id": "run-2"}
    assert {(e["type"], e["id"]) for e in index.of("patients:70")} == {("persons", 700)}
    assert ledger.landed_keys(("deals", "notes")) == {("deals", 5): "appointments:1", ("notes", 9): "clinical_notes:1"}
    assert ledger.done_row_by_id("notes", 9)["sent"] == {"content": "x", "deal_id": 5}
    assert ledger.done_row_by_id("notes", 5) is None
    ledger.close()


def test_every_contract_stream_has_an_adapter_and_a_sink():
    from target_pipedrive.contract import DEPENDENCY_ORDER
    from target_pipedrive.entities import ENTITIES
    from target_pipedrive.sinks import SINKS

    assert list(ENTITIES) == DEPENDENCY_ORDER  # the scheduler retries waiting records in this order
    assert set(SINKS) == {*DEPENDENCY_ORDER, "skipped", "degraded"}
