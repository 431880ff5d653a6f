"""Adopting a person already in the Pipedrive account: only the same person, on the mapper's identity rule.

The account holds persons no run of ours made (added by hand before the migration); the target meets a
patient with one of their emails. A family member sharing the address is not adopted, and each such case
is in the run summary with the Pipedrive id and field names only.
"""

from __future__ import annotations

import copy

import pytest
from testkit.target_contract import SCHEMAS, _field, write_singer
from testkit.target_run import TargetHarness, live

ACCOUNT_EMAIL = "lopez.family@mail.example"


def person(number: int, name: str, email: str = ACCOUNT_EMAIL, birthday: str | None = None) -> dict:
    first, _, last = name.partition(" ")
    return {"source_id": f"patients:{number}", "owner_email": None, "owner_name": None, "owner_source_id": None,
            "name": name, "first_name": first, "last_name": last, "org_source_id": None,
            "emails": [{"value": email, "primary": True, "label": "home"}], "phones": [], "postal_address": None,
            "birthday": birthday, "merged_source_ids": [], "custom_fields": {"practicehub_id": f"patients:{number}"}}


def persons_input(harness: TargetHarness, records: list[dict], match_on=None):
    schema = copy.deepcopy(SCHEMAS["persons"])
    schema["schema"]["properties"]["custom_fields"]["properties"] = {
        "practicehub_id": _field("PracticeHub ID", "varchar")}
    if match_on is not None:
        schema["schema"]["x-pipedrive-identity"] = {"match_on": match_on}
    messages = [schema, *({"type": "RECORD", "stream": "persons", "record": r} for r in records),
                {"type": "STATE", "value": {"bookmarks": {"done": True}}}]
    return write_singer(harness.workdir / "persons.singer", messages)


@pytest.fixture
def account(pipedrive_sandbox_factory, tmp_path):
    """An empty account, then persons added by hand: a mother with a date of birth, and a stranger."""
    sandbox = pipedrive_sandbox_factory(plan="premium", seats=3, fixture="empty", time_scale=50.0)
    made = sandbox.request("POST", "/api/v2/personFields", json={"field_name": "Date of birth", "field_type": "date"})
    assert made.status_code in (200, 201), made.text
    born = made.json()["data"]["field_code"]
    ids = {}
    for name, email, birthday in (("Maria Lopez", ACCOUNT_EMAIL, "1980-02-03"),
                                  ("Sam Stranger", "sam@mail.example", None)):
        body = {"name": name, "emails": [{"value": email, "primary": True, "label": "work"}]}
        if birthday:
            body["custom_fields"] = {born: birthday}
        created = sandbox.request("POST", "/api/v2/persons", json=body)
        assert created.status_code in (200, 201), created.text
        ids[name] = created.json()["data"]["id"]
    return TargetHarness(sandbox, tmp_path), ids


def adoptions(summary: dict) -> dict[str, dict]:
    return {row["source_id"]: row for row in summary["adoptions"]}


def test_the_same_person_is_adopted_whatever_the_case_and_name_order(account):
    harness, ids = account
    result = harness.run(persons_input(harness, [person(1, "LOPEZ maria", email=" Lopez.Family@mail.example",
                                                        birthday="1980-02-03")]))
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.summary["streams"]["persons"] == {"received": 1, "created": 0, "updated": 1, "unchanged": 0,
                                                    "skipped": 0, "waiting": 0}
    row = adoptions(result.summary)["patients:1"]
    assert (row["decision"], row["pipedrive_id"], row["matched_on"]) == (
        "adopted", ids["Maria Lopez"], ["email", "name", "date_of_birth"])
    assert len(live(harness.sandbox.snapshot(), "persons")) == 2


def test_a_family_member_with_the_email_is_not_adopted_and_the_case_is_reported(account):
    harness, ids = account
    result = harness.run(persons_input(harness, [person(2, "Diego Lopez", birthday="2012-05-06"),
                                                 person(3, "Maria Lopez", birthday="1981-12-12")]))
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.summary["streams"]["persons"]["created"] == 2
    persons = live(harness.sandbox.snapshot(), "persons")
    mother = next(p for p in persons if p["id"] == ids["Maria Lopez"])
    assert mother["name"] == "Maria Lopez" and len(persons) == 4  # untouched; the children are new persons
    rows = adoptions(result.summary)
    assert (rows["patients:2"]["decision"], rows["patients:2"]["differs_on"]) == ("not_adopted", ["name"])
    assert (rows["patients:3"]["decision"], rows["patients:3"]["differs_on"]) == ("not_adopted", ["date_of_birth"])
    assert {row["pipedrive_id"] for row in rows.values()} == {ids["Maria Lopez"]}
    text = (harness.state_dir / "summary.json").read_text()
    assert "Diego" not in text and "2012-05-06" not in text and "1981-12-12" not in text


def test_an_account_person_is_adopted_by_one_record_only(account):
    harness, ids = account
    result = harness.run(persons_input(harness, [person(4, "Sam Stranger", email="sam@mail.example",
                                                        birthday="1970-01-01"),
                                                 person(5, "Sam Stranger", email="sam@mail.example",
                                                        birthday="1999-09-09")]))
    assert result.returncode == 0, result.stderr[-2000:]
    rows = adoptions(result.summary)
    decisions = sorted((row["decision"], row["note"]) for row in rows.values())
    assert decisions == [("adopted", ""), ("not_adopted", "already adopted by another record")]
    assert result.summary["streams"]["persons"]["created"] == 1


def test_the_rule_comes_from_the_mapping_file_through_the_schema(account):
    harness, ids = account
    result = harness.run(persons_input(harness, [person(6, "Diego Lopez")], match_on=["email"]))
    assert adoptions(result.summary)["patients:6"]["decision"] == "adopted"  # email only: the practice's choice

    off = harness.run(persons_input(harness, [person(7, "Sam Stranger", email="sam@mail.example")], match_on=[]),
                      run_id="run-2")
    row = adoptions(off.summary)["patients:7"]
    assert (row["decision"], row["note"]) == ("not_adopted", "de-duplication is off in the mapping: never adopted")
    assert off.summary["streams"]["persons"]["created"] == 1
