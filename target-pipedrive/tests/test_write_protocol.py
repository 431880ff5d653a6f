"""The exactly-once write protocol (target_pipedrive/write_protocol.py) on its own.

The pure-logic cases run against `Account`, an in-memory stand-in for Pipedrive's side of a create (a record
lands, its answer is lost, a stalled request lands late), with the real ledger and manifest on disk. The last
test runs the real adapters and client against the Pipedrive sandbox, whose answers are cut off after the
write landed.
"""

from __future__ import annotations

import threading
from collections import deque

import pytest
from target_pipedrive.client import AmbiguousWrite, BudgetExhausted, PipedriveClient
from target_pipedrive.contract import SkipRecord
from target_pipedrive.entities import ENTITIES, EntityContext
from target_pipedrive.ledger import Ledger, Manifest
from target_pipedrive.owners import Owners
from target_pipedrive.report import RunReport
from target_pipedrive.schema_setup import SchemaSetup
from target_pipedrive.values import ValueConverter
from target_pipedrive.write_protocol import AMBIGUOUS_TRIES, Claims, Turns, WriteProtocol
from testkit.target_run import ADMIN_EMAIL

from tests.test_conformance import LoseFirstAnswer

LANDING_WAIT = 7.5


class Account:
    """Pipedrive's side of the creates: each create's fate is taken from `fates` (default: answered)."""

    def __init__(self, *fates: str) -> None:
        self.fates = deque(fates)  # answered | lost_after_landing | lost_before_landing | stalled
        self.records: dict[int, dict] = {}
        self.stalled: list[dict] = []
        self.creates = 0
        self.sleeps: list[float] = []

    def land(self, payload: dict) -> int:
        pipedrive_id = 100 + len(self.records)
        self.records[pipedrive_id] = dict(payload)
        return pipedrive_id

    def sleep(self, seconds: float) -> None:
        """The protocol waiting for a stalled create: a stalled request lands meanwhile."""
        self.sleeps.append(seconds)
        if seconds:
            for payload in self.stalled:
                self.land(payload)
            self.stalled.clear()


class LookAlike:
    """An adapter whose records are told apart only by what they hold (like activities, notes, files)."""

    stream = "activities"

    def __init__(self, account: Account, budget_left: bool = True) -> None:
        self.account = account
        self.budget_left = budget_left

    def build_payload(self, record: dict, parents: dict[str, int]) -> dict:
        if not record.get("subject"):
            raise SkipRecord("empty_content")
        return {"subject": record["subject"], **parents}

    def ignored_keys(self, record: dict) -> list[str]:
        return sorted(set(record) - {"source_id", "subject"})

    def ignored_detail(self, key: str) -> str:
        return "no field"

    def create(self, payload: dict) -> int:
        if not self.budget_left:
            raise BudgetExhausted("spent")
        self.account.creates += 1
        fate = self.account.fates.popleft() if self.account.fates else "answered"
        if fate == "answered":
            return self.account.land(payload)
        if fate == "lost_after_landing":
            self.account.land(payload)
        elif fate == "stalled":
            self.account.stalled.append(payload)
        raise AmbiguousWrite("POST /activities: ChunkedEncodingError")

    def find_candidates(self, record: dict, payload: dict) -> list[int]:
        return [pipedrive_id for pipedrive_id, held in self.account.records.items() if held == payload]

    def lookalike_key(self, payload: dict) -> tuple:
        return (payload["subject"],)


class Recorded:
    """What the protocol reported, and the updates it asked for."""

    def __init__(self) -> None:
        self.created_rows: list[tuple] = []
        self.skips: list[tuple] = []
        self.ignored_keys: list[tuple] = []
        self.arrived_ids: list[str] = []
        self.updated: list[tuple] = []
        self.adopted_existing: list[tuple] = []

    def arrived(self, stream, source_id):
        self.arrived_ids.append(source_id)

    def ignored(self, stream, key, detail):
        self.ignored_keys.append((stream, key, detail))

    def created(self, stream, source_id, pipedrive_id, sent):
        self.created_rows.append((stream, source_id, pipedrive_id))

    def skipped(self, stream, record, reason, detail="", pipedrive_error=None):
        self.skips.append((record.get("source_id"), reason))

    def update_if_changed(self, entity, source_id, entry, payload):
        self.updated.append((source_id, entry["pipedrive_id"], payload))

    def update_preexisting(self, entity, source_id, existing, payload):
        self.adopted_existing.append((source_id, existing["id"]))


@pytest.fixture
def ledger(tmp_path):
    ledger = Ledger(tmp_path / "ledger.sqlite")
    yield ledger
    ledger.close()


def protocol(tmp_path, ledger, recorded, find_existing=lambda stream, record, payload: None, sleep=None):
    return WriteProtocol(ledger, Manifest(tmp_path / "manifest.jsonl"), "run-1", updates=recorded,
                         outcomes=recorded, find_existing=find_existing, claims=Claims(ledger),
                         landing_wait=LANDING_WAIT, sleep=sleep or (lambda seconds: None))


@pytest.fixture
def recorded():
    return Recorded()


def test_a_create_lands_once_with_its_manifest_line_and_done_row(tmp_path, ledger, recorded):
    account = Account()
    writer = protocol(tmp_path, ledger, recorded)
    writer.write(LookAlike(account), {"source_id": "a:1", "subject": "Visit", "room": "2"}, {"deal_id": 5})
    assert account.records == {100: {"subject": "Visit", "deal_id": 5}}
    assert ledger.get("activities", "a:1")["status"] == "done" and ledger.pipedrive_id("activities", "a:1") == 100
    assert [e["id"] for e in writer.manifest.entries() if e["op"] == "create"] == [100]
    assert recorded.created_rows == [("activities", "a:1", 100)]
    assert recorded.arrived_ids == ["a:1"] and recorded.ignored_keys == [("activities", "room", "no field")]


def test_a_lost_answer_whose_create_landed_is_found_not_created_again(tmp_path, ledger, recorded):
    account = Account("lost_after_landing")
    protocol(tmp_path, ledger, recorded, sleep=account.sleep).write(
        LookAlike(account), {"source_id": "a:1", "subject": "Visit"}, {})
    assert account.creates == 1 and list(account.records) == [100]
    assert ledger.pipedrive_id("activities", "a:1") == 100
    assert account.sleeps == [0.0]  # found at once: no wait for a stalled request


def test_a_lost_answer_whose_create_never_landed_is_created_again(tmp_path, ledger, recorded):
    account = Account("lost_before_landing")
    protocol(tmp_path, ledger, recorded, sleep=account.sleep).write(
        LookAlike(account), {"source_id": "a:1", "subject": "Visit"}, {})
    assert account.creates == 2 and list(account.records) == [100]
    assert account.sleeps == [0.0, LANDING_WAIT]  # looked up at once and again after a stall could land


def test_a_stalled_create_that_lands_late_is_found_by_the_second_lookup(tmp_path, ledger, recorded):
    account = Account("stalled")
    protocol(tmp_path, ledger, recorded, sleep=account.sleep).write(
        LookAlike(account), {"source_id": "a:1", "subject": "Visit"}, {})
    assert account.creates == 1 and list(account.records) == [100]
    assert ledger.pipedrive_id("activities", "a:1") == 100


def test_answers_lost_every_time_end_in_a_skip_and_no_pending_row(tmp_path, ledger, recorded):
    account = Account(*["lost_before_landing"] * AMBIGUOUS_TRIES)
    protocol(tmp_path, ledger, recorded, sleep=account.sleep).write(
        LookAlike(account), {"source_id": "a:1", "subject": "Visit"}, {})
    assert account.creates == AMBIGUOUS_TRIES and account.records == {}
    assert recorded.skips == [("a:1", "rejected")] and ledger.get("activities", "a:1") is None


def test_a_pending_row_from_an_interrupted_run_adopts_what_landed(tmp_path, ledger, recorded):
    account = Account()
    account.land({"subject": "Visit"})  # the earlier run's create landed; its answer never came
    ledger.mark_pending("activities", "a:1", "run-0")
    writer = protocol(tmp_path, ledger, recorded)
    writer.write(LookAlike(account), {"source_id": "a:1", "subject": "Visit"}, {})
    assert account.creates == 0 and ledger.pipedrive_id("activities", "a:1") == 100
    assert [e["adopted"] for e in writer.manifest.entries()] == [True]


def test_a_look_alike_owned_by_another_source_record_is_never_adopted(tmp_path, ledger, recorded):
    account = Account()
    account.land({"subject": "Visit"})
    ledger.mark_done("activities", "a:0", 100, {"subject": "Visit"}, "run-0")  # a:0's own record
    ledger.mark_pending("activities", "a:1", "run-0")
    protocol(tmp_path, ledger, recorded).write(LookAlike(account), {"source_id": "a:1", "subject": "Visit"}, {})
    assert account.creates == 1 and ledger.pipedrive_id("activities", "a:1") == 101


def test_two_look_alikes_with_lost_answers_get_one_record_each(tmp_path, ledger, recorded):
    account = Account("lost_after_landing", "lost_after_landing")
    writer = protocol(tmp_path, ledger, recorded, sleep=account.sleep)
    entity = LookAlike(account)
    threads = [threading.Thread(target=writer.write, args=(entity, {"source_id": f"a:{i}", "subject": "Visit"}, {}))
               for i in (1, 2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert account.creates == 2 and len(account.records) == 2
    assert {ledger.pipedrive_id("activities", "a:1"), ledger.pipedrive_id("activities", "a:2")} == {100, 101}


def test_a_record_that_landed_before_goes_to_the_delta(tmp_path, ledger, recorded):
    account = Account()
    ledger.mark_done("activities", "a:1", 100, {"subject": "Visit"}, "run-0")
    protocol(tmp_path, ledger, recorded).write(LookAlike(account), {"source_id": "a:1", "subject": "Moved"}, {})
    assert account.creates == 0 and recorded.updated == [("a:1", 100, {"subject": "Moved"})]


def test_an_account_record_found_by_its_natural_key_is_adopted_not_created(tmp_path, ledger, recorded):
    account = Account()
    writer = protocol(tmp_path, ledger, recorded, find_existing=lambda stream, record, payload: {"id": 7})
    writer.write(LookAlike(account), {"source_id": "a:1", "subject": "Visit"}, {})
    assert account.creates == 0 and recorded.adopted_existing == [("a:1", 7)]


def test_a_record_that_cannot_be_written_is_skipped_and_leaves_no_row(tmp_path, ledger, recorded):
    account = Account()
    ledger.mark_pending("activities", "a:1", "run-0")
    writer = protocol(tmp_path, ledger, recorded)
    writer.write(LookAlike(account), {"source_id": "a:1", "subject": ""}, {})
    writer.write(LookAlike(account), {"subject": "Visit"}, {})
    assert recorded.skips == [("a:1", "empty_content"), (None, "missing_source_id")]
    assert ledger.get("activities", "a:1") is None and account.creates == 0


def test_a_spent_budget_stops_the_run_and_leaves_no_pending_row(tmp_path, ledger, recorded):
    with pytest.raises(BudgetExhausted):
        protocol(tmp_path, ledger, recorded).write(
            LookAlike(Account(), budget_left=False), {"source_id": "a:1", "subject": "Visit"}, {})
    assert ledger.get("activities", "a:1") is None  # nothing was sent: the next run creates it without a lookup


def test_a_claim_goes_to_one_source_record_only(ledger):
    claims = Claims(ledger)
    ledger.mark_done("persons", "p:0", 5, {}, "run-0")
    assert not claims.claim("persons", 5, "p:1")  # the ledger's: p:0 owns it
    assert claims.claim("persons", 5, "p:0")  # its owner may find it again
    assert claims.claim("persons", 6, "p:1") and not claims.claim("persons", 6, "p:2")  # claimed in this run


def test_only_look_alikes_take_turns():
    turns, inside, release = Turns(), threading.Event(), threading.Event()
    second, unrelated = threading.Event(), threading.Event()

    def hold(key, entered, wait_for=None):
        with turns.taking_turns("notes", key):
            entered.set()
            if wait_for is not None:
                wait_for.wait(10)

    first = threading.Thread(target=hold, args=(("deal", 1), inside, release))
    first.start()
    assert inside.wait(5)
    same = threading.Thread(target=hold, args=(("deal", 1), second))
    other = threading.Thread(target=hold, args=(("deal", 2), unrelated))
    same.start()
    other.start()
    assert unrelated.wait(5)  # a different key never waits
    assert not second.wait(0.2)  # the look-alike waits for its turn
    release.set()
    assert second.wait(5)
    for thread in (first, same, other):
        thread.join(5)


def test_real_adapters_against_the_sandbox_create_once_when_the_answer_is_lost(pipedrive_sandbox_factory, tmp_path,
                                                                                ledger, recorded):
    sandbox = pipedrive_sandbox_factory(plan="premium", fixture="in-use")
    app = sandbox._server.app  # noqa: SLF001 - the fixture's in-process server
    app.wsgi_app = LoseFirstAnswer(app.wsgi_app, "POST", "/api/v1/notes")
    client = PipedriveClient(sandbox.base_url, sandbox.api_token, plan="premium", timeout=10)
    try:
        schema = SchemaSetup(client, None, "run-1")
        values = ValueConverter(schema, ledger, client, RunReport("run-1"), tmp_path, send_birthday=False)
        context = EntityContext(client, values, Owners.fetch(client, ADMIN_EMAIL), schema, "USD")
        person = client.request("POST", "/persons", json={"name": "Ann Example"})["data"]["id"]
        notes = ENTITIES["notes"](context)
        writer = protocol(tmp_path, ledger, recorded)
        record = {"source_id": "clinical_notes:1", "content": "<p>Seen today</p>", "add_time": "2024-03-01 09:00:00",
                  "person_source_id": "patients:1"}
        writer.write(notes, record, {"person_source_id": person})
        writer.write(notes, record, {"person_source_id": person})  # the same record again: no second create
    finally:
        client.close()
    landed = [note for note in sandbox.walk("/api/v1/notes", "start") if note.get("person_id") == person]
    assert len(landed) == 1 and ledger.pipedrive_id("notes", "clinical_notes:1") == landed[0]["id"]
    assert recorded.created_rows == [("notes", "clinical_notes:1", landed[0]["id"])]
    assert [u[0] for u in recorded.updated] == ["clinical_notes:1"]
