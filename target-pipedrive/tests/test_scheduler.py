"""The write scheduler (target_pipedrive/scheduler.py) on its own: which record is written when.

Writes here "land" by marking the real ledger done, on the scheduler's worker threads; no HTTP is involved.
"""

from __future__ import annotations

import threading

import pytest
from target_pipedrive.ledger import Ledger
from target_pipedrive.report import RunReport
from target_pipedrive.scheduler import WriteScheduler


class Stream:
    def __init__(self, stream: str, parent_refs: dict[str, str] | None = None) -> None:
        self.stream = stream
        self.parent_refs = parent_refs or {}


class Landing:
    """A write that lands each record under the next id, remembering the order and the parents it was given."""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger
        self.order: list[tuple[str, str, dict]] = []
        self.gate: dict[str, threading.Event] = {}  # source id → released when its write may land
        self._lock = threading.Lock()

    def __call__(self, entity, record, parents, payload) -> None:
        gate = self.gate.get(record["source_id"])
        if gate is not None:
            assert gate.wait(10)
        with self._lock:
            self.order.append((entity.stream, record["source_id"], dict(parents)))
            pipedrive_id = len(self.order)
        self.ledger.mark_done(entity.stream, record["source_id"], pipedrive_id, {"n": record.get("n")}, "run-1")


@pytest.fixture
def ledger(tmp_path):
    ledger = Ledger(tmp_path / "ledger.sqlite")
    yield ledger
    ledger.close()


def scheduler(ledger, landing, references=lambda stream, record: []):
    scheduler = WriteScheduler(ledger, RunReport("run-1"), write=landing,
                               read_before_update=lambda entity, updates: [(*u, None) for u in updates],
                               references=references, max_concurrency=2)
    scheduler.entities = {"organizations": Stream("organizations"),
                          "persons": Stream("persons", {"org_source_id": "organizations"}),
                          "notes": Stream("notes", {"person_source_id": "persons"})}
    return scheduler


def test_a_child_waits_for_its_parent_and_gets_its_id(ledger):
    landing = Landing(ledger)
    run = scheduler(ledger, landing)
    run.queue("persons", [{"source_id": "p:1", "org_source_id": "o:1"}])
    run.settle()
    assert landing.order == [] and [r["source_id"] for r in run.waiting["persons"]] == ["p:1"]
    run.queue("organizations", [{"source_id": "o:1"}])
    run.settle()
    assert landing.order == [("organizations", "o:1", {}), ("persons", "p:1", {"org_source_id": 1})]
    assert not any(run.waiting.values())
    run.shutdown()


def test_a_second_record_for_a_source_id_is_written_after_the_first(ledger):
    landing = Landing(ledger)
    landing.gate["o:1"] = first_may_land = threading.Event()
    run = scheduler(ledger, landing)
    run.queue("organizations", [{"source_id": "o:1", "n": 1}])
    run.queue("organizations", [{"source_id": "o:1", "n": 2}])
    assert [r["n"] for r in run.waiting["organizations"]] == [2]  # held while the first is in flight
    first_may_land.set()
    run.settle()
    assert [entry[1] for entry in landing.order] == ["o:1", "o:1"]
    assert ledger.get("organizations", "o:1")["sent"] == '{"n": 2}'  # the later record landed last
    run.shutdown()


def test_a_record_referred_to_by_a_custom_field_is_waited_for_until_the_end(ledger):
    landing = Landing(ledger)
    def refers(stream, record):
        return [("organizations", "o:9")] if record["source_id"] == "p:1" else []

    run = scheduler(ledger, landing, references=refers)
    run.queue("persons", [{"source_id": "p:1"}, {"source_id": "p:2"}])
    run.settle()
    assert [entry[1] for entry in landing.order] == ["p:2"]
    left = run.finish()  # o:9 never came: p:1 is written (its reference empty), nothing is left
    assert [entry[1] for entry in landing.order] == ["p:2", "p:1"] and not any(left.values())
    run.shutdown()


def test_the_end_of_input_hands_back_what_still_waits_for_a_parent(ledger):
    landing = Landing(ledger)
    run = scheduler(ledger, landing)
    run.queue("notes", [{"source_id": "n:1", "person_source_id": "p:404"}])
    left = run.finish()
    assert [r["source_id"] for r in left["notes"]] == ["n:1"] and landing.order == []
    assert not run.waiting
    run.shutdown()


def test_a_failed_write_is_raised_and_unsent_writes_are_cancelled(ledger):
    def failing(entity, record, parents, payload):
        raise RuntimeError("fatal answer")

    run = scheduler(ledger, failing)
    run.queue("organizations", [{"source_id": "o:1"}])
    with pytest.raises(RuntimeError, match="fatal answer"):
        run.settle()
    run.shutdown()
