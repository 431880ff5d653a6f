"""De-duplication never merges two people: same email AND same identity; every decision reported, ids only."""

from __future__ import annotations

import csv
import hashlib
import json

import pytest
import yaml
from map_practicehub_pipedrive.mapping import (
    MappingError,
    check_confirmed,
    default_mapping,
    propose,
    read_mapping,
)
from testkit.mapper_run import base_config, run_mapper, singer_lines, write_mapping
from testkit.practice import LOCATION, PRACTITIONER, TYPE_INITIAL, appointment, patient, practice

FAMILY = [patient(1, "Maria", "Lopez", "lopez.family@example.com", dob="1980-02-03"),
          patient(2, "Diego", "Lopez", " Lopez.Family@example.com", dob="2012-05-06"),
          patient(3, "Sofia", "Lopez", "LOPEZ.FAMILY@example.com", dob="2015-09-10")]
TWINS = [patient(11, "Emma", "Hart", "hart@example.com", dob="2010-01-01"),
         patient(12, "Ella", "Hart", "hart@example.com", dob="2010-01-01")]
VALUES = ("Maria", "Diego", "Sofia", "Lopez", "lopez.family", "1980-02-03", "2012-05-06", "Emma", "Ella", "Hart",
          "hart@", "2010-01-01", "Zo", "ller")


def mapped(tmp_path, patients, appointments=(), **config):
    records = {"locations": [LOCATION], "practitioners": [PRACTITIONER], "appointment_types": [TYPE_INITIAL],
               "patients": list(patients), "appointments": list(appointments)}
    return run_mapper(base_config(tmp_path, **config), singer_lines(records))


def report(tmp_path, name="dedupe"):
    return json.loads((tmp_path / "reports" / f"{name}.json").read_text())


def reports_text(tmp_path) -> str:
    folder = tmp_path / "reports"
    return "".join(path.read_text() for path in sorted(folder.glob("dedupe*")) + [folder / "state" /
                                                                                   "mapper_state.json"])


def pairs(rows, decision):
    return {(row["source_id"], row["other_source_id"]): row for row in rows if row["decision"] == decision}


def with_rule(tmp_path, match_on):
    data = default_mapping()
    data["dedupe"]["match_on"] = match_on
    return write_mapping(tmp_path / "mapping", data)


def test_a_family_sharing_an_email_stays_three_people(tmp_path):
    output = mapped(tmp_path, FAMILY, [appointment(21, 2, "pending"), appointment(22, 3, "pending")])
    persons = output.by_id("persons")
    assert set(persons) == {"patients:1", "patients:2", "patients:3"}
    assert all(person["merged_source_ids"] == [] for person in persons.values())
    assert [person["emails"][0]["value"].strip().lower() for person in persons.values()] == \
        ["lopez.family@example.com"] * 3  # each keeps the email: Pipedrive allows that
    assert output.by_id("deals")["appointments:21"]["person_source_id"] == "patients:2"
    assert output.by_id("deals")["appointments:22"]["person_source_id"] == "patients:3"
    found = report(tmp_path)
    assert found["merges"] == []
    apart = pairs(found["kept_apart"], "kept_apart")
    assert set(apart) == {("patients:2", "patients:1"), ("patients:3", "patients:1"), ("patients:3", "patients:2")}
    assert all(row["differs_on"] == ["name"] and row["matched_on"] == ["email"] for row in apart.values())
    assert [group["persons"] for group in found["shared_email_groups"]] == [["patients:1", "patients:2",
                                                                             "patients:3"]]
    assert json.loads((tmp_path / "reports" / "reconciliation.json").read_text())["streams"]["patients"]["merged"] == 0
    assert not any(value in reports_text(tmp_path) for value in VALUES)


def test_twins_with_one_surname_and_birth_date_are_two_people(tmp_path):
    output = mapped(tmp_path, TWINS)
    assert set(output.by_id("persons")) == {"patients:11", "patients:12"}
    row = report(tmp_path)["kept_apart"][0]
    assert (row["source_id"], row["other_source_id"], row["differs_on"]) == ("patients:12", "patients:11", ["name"])
    assert not any(value in reports_text(tmp_path) for value in VALUES)


@pytest.mark.parametrize(("first", "last"), [("ZOË", "MÜLLER"), ("  Zoë ", " Müller  "), ("Zoe", "Muller"),
                                             ("Müller", "Zoë"), ("zoe", "MUELLER")],
                         ids=["case", "spaces", "accents", "swapped order", "not the same name"])
def test_true_duplicates_merge_whatever_the_case_spaces_accents_and_order(tmp_path, first, last):
    patients = [patient(31, "Zoë", "Müller", "zoe@example.com", dob="1990-04-05"),
                patient(32, first, last, " ZOE@example.com ", dob="1990-04-05")]
    output = mapped(tmp_path, patients, [appointment(41, 32, "pending")])
    found = report(tmp_path)
    if last == "MUELLER":  # ue for ü is a spelling, not an accent: a person to look at, not to merge
        assert set(output.by_id("persons")) == {"patients:31", "patients:32"}
        assert found["kept_apart"][0]["differs_on"] == ["name"]
        return
    assert set(output.by_id("persons")) == {"patients:31"}
    assert output.by_id("persons")["patients:31"]["merged_source_ids"] == ["patients:32"]
    assert output.by_id("deals")["appointments:41"]["person_source_id"] == "patients:31"
    assert found["merges"] == [{"survivor_source_id": "patients:31", "merged_source_id": "patients:32",
                                "matched_on": ["email", "name", "date_of_birth"], "not_compared": [],
                                "run_id": found["merges"][0]["run_id"]}]
    assert not any(value in reports_text(tmp_path) for value in VALUES)


def test_the_date_of_birth_must_agree_where_both_have_one(tmp_path):
    patients = [patient(51, "Sam", "Lee", "lee@example.com", dob="1970-01-01"),
                patient(52, "Sam", "Lee", "lee@example.com", dob="1999-09-09"),  # junior: same name
                patient(53, "Sam", "Lee", "lee@example.com", dob=None)]
    output = mapped(tmp_path, patients)
    found = report(tmp_path)
    assert pairs(found["kept_apart"], "kept_apart")[("patients:52", "patients:51")]["differs_on"] == ["date_of_birth"]
    # 53 has no date of birth and the name of both: it could be either, so it is merged with neither
    assert set(output.by_id("persons")) == {"patients:51", "patients:52", "patients:53"}
    ambiguous = pairs(found["kept_apart"], "kept_apart")
    assert {key for key in ambiguous if key[0] == "patients:53"} == {("patients:53", "patients:51"),
                                                                     ("patients:53", "patients:52")}
    assert all("more than one person" in ambiguous[key]["note"] for key in ambiguous if key[0] == "patients:53")


def test_a_missing_date_of_birth_on_one_record_still_merges_on_email_and_name(tmp_path):
    output = mapped(tmp_path, [patient(61, "Kim", "Park", "park@example.com", dob=None),
                               patient(62, "Park", "Kim", "park@example.com", dob="1988-08-08")])
    assert output.by_id("persons")["patients:61"]["merged_source_ids"] == ["patients:62"]
    merge = report(tmp_path)["merges"][0]
    assert (merge["matched_on"], merge["not_compared"]) == (["email", "name"], ["date_of_birth"])


def test_phi_excluded_date_of_birth_is_compared_but_never_written(tmp_path):
    patients = [patient(71, "Sam", "Lee", "lee@example.com", dob="1970-01-01"),
                patient(72, "Sam", "Lee", "lee@example.com", dob="1999-09-09"),
                patient(73, "sam", "LEE", "lee@example.com", dob="1970-01-01")]
    output = mapped(tmp_path, patients, phi_policy="exclude", baa_reference=None)
    persons = output.by_id("persons")
    assert set(persons) == {"patients:71", "patients:72"}
    assert persons["patients:71"]["merged_source_ids"] == ["patients:73"]
    assert all(person["birthday"] is None for person in persons.values())
    assert "1970-01-01" not in output.text + reports_text(tmp_path)
    assert "1999-09-09" not in output.text + reports_text(tmp_path)


def test_email_only_and_off_are_there_for_practices_that_want_them(tmp_path):
    output = mapped(tmp_path / "email", FAMILY, mapping_file=with_rule(tmp_path / "email", ["email"]))
    assert set(output.by_id("persons")) == {"patients:1"}
    assert output.by_id("persons")["patients:1"]["merged_source_ids"] == ["patients:2", "patients:3"]
    assert report(tmp_path / "email")["merges"][0]["matched_on"] == ["email"]
    assert output.schemas["persons"]["schema"]["x-pipedrive-identity"] == {"match_on": ["email"],
                                                                          "rule": "email_only"}

    output = mapped(tmp_path / "off", FAMILY + [patient(4, "Maria", "Lopez", "lopez.family@example.com",
                                                        dob="1980-02-03")],
                    mapping_file=with_rule(tmp_path / "off", False))
    assert set(output.by_id("persons")) == {"patients:1", "patients:2", "patients:3", "patients:4"}
    found = report(tmp_path / "off")
    assert found["merges"] == [] and found["rule"] == {"match_on": [], "rule": "off"}
    assert {row["note"] for row in found["kept_apart"]} == {"dedupe is off in the mapping file"}


def test_persons_schema_tells_the_target_the_rule(golden):
    assert golden.schemas["persons"]["schema"]["x-pipedrive-identity"] == {
        "match_on": ["email", "name", "date_of_birth"], "rule": "identity"}


def test_the_rule_is_in_the_mapping_file_validated_proposed_and_bound_by_confirm(tmp_path):
    proposed = propose(None, {"patients": [patient(1, "A", "B", "a@example.com")]})
    assert proposed["dedupe"]["match_on"] == ["email", "name", "date_of_birth"]
    assert "share one email" in proposed["dedupe"]["reason"]

    path = write_mapping(tmp_path)
    data = yaml.safe_load(path.read_text())
    data["dedupe"]["match_on"] = ["email"]
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(MappingError, match="changed since it was confirmed"):
        check_confirmed(read_mapping(path), path)

    for wrong, message in ((["name"], r"dedupe.match_on \['name'\] is not one of \[email, name, date_of_birth\]"),
                           ("email", "is not one of"), ({"fields": ["email"]}, "dedupe needs match_on")):
        data["dedupe"] = {"match_on": wrong} if not isinstance(wrong, dict) else wrong
        path.write_text(yaml.safe_dump(data))
        with pytest.raises(MappingError, match=message):
            read_mapping(path)


def test_a_mapping_file_without_the_block_gets_the_strict_rule(tmp_path):
    data = default_mapping()
    del data["dedupe"]
    output = mapped(tmp_path, FAMILY, mapping_file=write_mapping(tmp_path / "mapping", data))
    assert len(output.by_id("persons")) == 3


def test_every_run_keeps_its_report_and_the_migration_report_adds_them_up(tmp_path):
    config = base_config(tmp_path, run_id="full")
    run_mapper(config, singer_lines(practice()))
    run_mapper({**config, "run_id": "delta"}, singer_lines({"patients": TWINS}))
    run_mapper({**config, "run_id": "delta"}, singer_lines({"patients": []}))  # same id: a new file, not a rewrite
    folder = tmp_path / "reports"
    assert report(tmp_path, "dedupe-full")["merges"][0]["merged_source_id"] == "patients:103"
    assert report(tmp_path, "dedupe-delta")["kept_apart"][0]["source_id"] == "patients:12"
    assert report(tmp_path, "dedupe-delta-2")["counts"] == {"merged": 0, "kept_apart": 0, "review": 0}
    whole = report(tmp_path)
    assert (whole["scope"], whole["runs"], whole["counts"]) == ("migration", ["full", "delta"],
                                                               {"merged": 1, "kept_apart": 1, "review": 0})
    rows = list(csv.DictReader((folder / "dedupe.csv").open()))
    assert [(row["run_id"], row["decision"], row["source_id"], row["other_source_id"], row["matched_on"])
            for row in rows] == [("full", "merged", "patients:103", "patients:101", "email+name+date_of_birth"),
                                 ("delta", "kept_apart", "patients:12", "patients:11", "email")]


def test_runs_without_a_run_id_never_replace_each_others_report(tmp_path):
    config = base_config(tmp_path)
    for _ in range(3):
        run_mapper(config, singer_lines({"patients": []}))
    assert len(list((tmp_path / "reports").glob("dedupe-*.json"))) == 3


def test_state_file_holds_no_patient_data_and_is_owner_only(golden):
    path = golden.reports / "state" / "mapper_state.json"
    state = path.read_text()
    for secret in ("alice@example.com", "Anders", "alice", "MRN-101", "1985-07-14"):
        assert secret.lower() not in state.lower()
    assert path.stat().st_mode & 0o777 == 0o600


def test_a_sample_reports_its_own_run_and_leaves_the_migration_report_alone(tmp_path):
    config = base_config(tmp_path)
    run_mapper(config, singer_lines(practice()))
    before = (tmp_path / "reports" / "dedupe.json").read_text()
    run_mapper({**config, "sample_size": 100, "run_id": "sample"}, singer_lines(practice()))
    assert (tmp_path / "reports" / "dedupe.json").read_text() == before
    assert report(tmp_path, "dedupe-sample")["sample"] is True


def test_a_state_from_before_identities_were_kept_merges_nothing_it_cannot_compare(tmp_path):
    state = tmp_path / "reports" / "state" / "mapper_state.json"
    state.parent.mkdir(parents=True)
    key = hashlib.sha256(b"alice@example.com").hexdigest()
    state.write_text(json.dumps({"survivors": {"101": "101"}, "email_index": {key: "101"}, "merged": {}}))
    output = run_mapper(base_config(tmp_path), singer_lines({"patients": [patient(120, "Alice", "Anders",
                                                                                  "alice@example.com")]}))
    assert set(output.by_id("persons")) == {"patients:120"}
    row = report(tmp_path)["kept_apart"][0]
    assert (row["other_source_id"], row["not_compared"]) == ("patients:101", ["email", "name", "date_of_birth"])


# --- delta runs: earlier decisions stand; a change that would decide otherwise is reported -------------


def test_delta_run_sends_a_merged_patients_new_appointment_to_the_survivor(tmp_path):
    config = base_config(tmp_path)
    run_mapper(config, singer_lines(practice()))
    delta = {"appointments": [appointment(250, 103, "pending")],
             "reminders": [{"id": 550, "appointment_id": 250, "patient_id": 103, "type": "recall",
                            "send_at": "2024-05-01 09:00:00", "status": "pending", "channel": "email"}]}
    output = run_mapper(config, singer_lines(delta))
    assert output.by_id("deals")["appointments:250"]["person_source_id"] == "patients:101"
    assert output.by_id("deals")["appointments:250"]["owner_email"] == "paul@harbourphysio.example"
    assert output.by_id("activities")["reminders:550"]["deal_source_id"] == "appointments:250"


def test_delta_run_merges_a_new_duplicate_into_the_earlier_survivor_and_keeps_a_relative_apart(tmp_path):
    config = base_config(tmp_path)
    run_mapper(config, singer_lines(practice()))
    output = run_mapper(config, singer_lines({"patients": [
        patient(120, "alice", "ANDERS", "Alice@example.com"),
        patient(121, "Arne", "Anders", "alice@example.com", dob="1955-01-01")]}))  # her father books for her
    assert set(output.by_id("persons")) == {"patients:121"}  # 120's survivor was not in this run: nothing to re-send
    counts = json.loads((tmp_path / "reports" / "reconciliation.json").read_text())["streams"]["patients"]
    assert (counts["merged"], counts["out"]) == (1, 1)
    output = run_mapper(config, singer_lines({"patients": [patient(101, "Alice", "Anders", "alice@example.com")]}))
    assert output.by_id("persons")["patients:101"]["merged_source_ids"] == ["patients:103", "patients:120"]
    whole = report(tmp_path)
    assert [merge["merged_source_id"] for merge in whole["merges"]] == ["patients:103", "patients:120"]
    assert set(pairs(whole["kept_apart"], "kept_apart")) == {("patients:121", "patients:101")}


def test_a_merged_patient_stays_merged_when_a_later_change_makes_them_differ(tmp_path):
    config = base_config(tmp_path, run_id="full")
    run_mapper(config, singer_lines(practice()))
    changed = patient(103, "Alicia", "Anders", "alice@example.com")  # corrected in PracticeHub after the full run
    output = run_mapper({**config, "run_id": "delta"},
                        singer_lines({"patients": [changed], "appointments": [appointment(260, 103, "pending")]}))
    assert "persons" not in output.records
    assert output.by_id("deals")["appointments:260"]["person_source_id"] == "patients:101"
    review = report(tmp_path, "dedupe-delta")["review"]
    assert [(row["source_id"], row["other_source_id"], row["differs_on"]) for row in review] == [
        ("patients:103", "patients:101", ["name"])]
    assert "still merged" in review[0]["note"]
    assert report(tmp_path)["counts"] == {"merged": 1, "kept_apart": 0, "review": 1}


def test_patients_kept_apart_stay_apart_when_a_later_change_makes_them_the_same(tmp_path):
    config = base_config(tmp_path, run_id="full")
    full = practice()
    full["patients"] += TWINS
    run_mapper(config, singer_lines(full))
    same_now = patient(12, "Emma", "Hart", "hart@example.com", dob="2010-01-01")  # a typo fixed, or a twin renamed
    output = run_mapper({**config, "run_id": "delta"},
                        singer_lines({"patients": [same_now], "appointments": [appointment(270, 12, "pending")]}))
    assert output.by_id("persons")["patients:12"]["merged_source_ids"] == []
    assert output.by_id("deals")["appointments:270"]["person_source_id"] == "patients:12"
    review = report(tmp_path, "dedupe-delta")["review"]
    assert [(row["source_id"], row["other_source_id"], row["matched_on"]) for row in review] == [
        ("patients:12", "patients:11", ["email", "name", "date_of_birth"])]
    assert "kept apart" in review[0]["note"]
    again = run_mapper({**config, "run_id": "again"}, singer_lines({"patients": [same_now]}))
    assert set(again.by_id("persons")) == {"patients:12"}
    assert report(tmp_path, "dedupe-again")["review"] == []  # nothing changed since: nothing new to say


def test_dates_of_birth_are_read_as_the_output_reads_them_and_an_unreadable_one_never_merges(tmp_path):
    patients = [patient(81, "Ana", "Silva", "silva@example.com", dob="1975-03-04"),
                patient(82, "Ana", "Silva", "silva@example.com", dob="04/03/1975"),  # the same date, day first
                patient(83, "Ana", "Silva", "silva@example.com", dob="04/03/2005"),  # her daughter, named after her
                patient(84, "Ana", "Silva", "silva@example.com", dob="sometime in 1975")]
    output = mapped(tmp_path, patients, date_order="DMY")
    assert set(output.by_id("persons")) == {"patients:81", "patients:83", "patients:84"}
    assert output.by_id("persons")["patients:81"]["merged_source_ids"] == ["patients:82"]
    apart = pairs(report(tmp_path)["kept_apart"], "kept_apart")
    assert apart[("patients:83", "patients:81")]["differs_on"] == ["date_of_birth"]
    assert apart[("patients:84", "patients:81")]["differs_on"] == ["date_of_birth"]
    assert "sometime" not in reports_text(tmp_path)


def test_a_patient_without_a_name_is_never_merged(tmp_path):
    output = mapped(tmp_path, [patient(91, "Lee", "Chan", "chan@example.com"),
                               patient(92, None, None, "chan@example.com")])
    assert set(output.by_id("persons")) == {"patients:91", "patients:92"}
    row = report(tmp_path)["kept_apart"][0]
    assert (row["source_id"], row["not_compared"]) == ("patients:92", ["name", "date_of_birth"])
