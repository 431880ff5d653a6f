"""The dress rehearsal as README.md spells it: snapshot one sandbox account, start a twin from the snapshot,
rehearse there; then the real run on the original account does what the rehearsal said (same plan, same
report numbers)."""

from __future__ import annotations

import json

import pytest
from migration_report.build import ReportInputs, summarise
from target_pipedrive import rehearsal

from scripts import readme_steps
from tests.e2e.conftest import copy_project
from tests.e2e.walkthrough import ENVIRONMENT, Walkthrough, loose_modes

pytestmark = pytest.mark.slow

PLAN_KEYS = ("ok", "blocking_issues", "records", "transform_skipped", "unmatched_owners", "fields", "to_create",
             "planned_calls", "planned_write_calls", "planned_tokens", "daily_budget", "days_needed")


def _step(steps, key):
    return next(step for step in steps if step.key == key)


@pytest.fixture(scope="module")
def rehearsed(tmp_path_factory):
    project = copy_project(tmp_path_factory.mktemp("rehearsal-project"))
    walk = Walkthrough(project)
    try:
        _existing_contact(walk)
        walk.run_ok(("meltano", "install"))
        steps, rehearsal_steps = readme_steps.migration_steps(), readme_steps.rehearsal_steps()
        for key in ("propose", "confirm"):
            for command in _step(steps, key).commands:
                walk.run_ok(command)

        mark = len(walk.pipedrive.get("/_sandbox/requests")["data"])
        (snapshot,) = _step(rehearsal_steps, "snapshot").commands
        taken = walk.run_ok(snapshot)
        snapshot_calls = walk.pipedrive.get("/_sandbox/requests")["data"][mark:]

        (twin_command,) = _step(rehearsal_steps, "start").commands
        twin_token = twin_command[twin_command.index("--api-token") + 1]
        args = [arg.replace("output/dev/", f"output/{ENVIRONMENT}/") for arg in twin_command]
        port = args.index("--port")
        del args[port:port + 2]  # any free port
        twin = walk.start([*args, "--plan", "premium", "--time-scale", "50"])
        twin_env = {"PIPEDRIVE_TWIN_URL": twin.url, "PIPEDRIVE_TWIN_TOKEN": twin_token}
        assert set(twin_env) <= readme_steps.documented_variables()

        # the same plan on both accounts, before anything is written to either
        (preflight,) = _step(steps, "preflight").commands
        walk.run_ok(preflight, PIPEDRIVE_BASE_URL=twin.url, PIPEDRIVE_API_TOKEN=twin_token)
        twin_plan = json.loads((walk.out / "pipedrive" / "preflight.json").read_text())
        walk.run_ok(preflight)
        real_plan = json.loads((walk.out / "pipedrive" / "preflight.json").read_text())

        (rehearse,) = _step(rehearsal_steps, "rehearse").commands
        rehearsed_run = walk.run_ok(rehearse, **twin_env)
        twin_after = twin.get("/_sandbox/counters")["data"]
        real_before = walk.pipedrive.get("/_sandbox/counters")["data"]

        (full,) = _step(steps, "full").commands
        walk.run_ok(full)
        yield {"walk": walk, "taken": taken, "snapshot_calls": snapshot_calls, "twin_plan": twin_plan,
               "real_plan": real_plan, "rehearsed": rehearsed_run, "twin_after": twin_after,
               "real_before": real_before}
    finally:
        walk.stop()


def _existing_contact(walk: Walkthrough) -> None:
    """The account already holds one of the practice's patients: the load adopts that person."""
    from practicehub_sandbox.control import SandboxControl

    patient = next(row for row in SandboxControl(walk.practicehub.root).records("patients")
                   if row.get("email") and not row.get("deleted"))
    name = f"{patient['first_name']} {patient['last_name']}"  # adoption needs the same e-mail and name
    walk.pipedrive.post("/api/v2/persons", {"name": name, "emails": [{"value": patient["email"].strip(),
                                                                     "primary": True}]}, walk.pipedrive_token)


def test_the_snapshot_only_reads_and_says_what_it_cost(rehearsed):
    calls = rehearsed["snapshot_calls"]
    assert calls and {call["method"] for call in calls} == {"GET"}
    tokens = sum(call["cost"] for call in calls)
    assert f"{len(calls)} GET calls, {tokens} tokens" in rehearsed["taken"].output
    account = json.loads((rehearsed["walk"].out / "pipedrive-account.json").read_text())
    assert len(account["persons"]) == 9 and account["snapshot"]["api_tokens"] == tokens


def test_the_twin_gives_the_same_plan(rehearsed):
    twin, real = rehearsed["twin_plan"], rehearsed["real_plan"]
    assert twin["to_create"] and twin["planned_tokens"] > 0
    assert {key: twin[key] for key in PLAN_KEYS} == {key: real[key] for key in PLAN_KEYS}


def test_the_rehearsal_wrote_only_into_the_twin(rehearsed):
    writes = {op: n for op, n in rehearsed["real_before"]["by_operation"].items() if not op.split()[1] == "GET"}
    assert writes == {"v2 POST /persons": 1}  # the contact the test made; nothing from the rehearsal
    assert rehearsed["twin_after"]["by_operation"].get("v2 POST /persons", 0) > 0


def test_the_real_run_does_what_the_rehearsal_said(rehearsed):
    out = rehearsed["walk"].out
    predicted = json.loads((out / "rehearsal" / "pipedrive" / "rehearsal.json").read_text())
    actual = rehearsal.predict(out / "pipedrive", "premium", 3)  # the same reading of the real run's folder
    assert predicted["totals"]["create"] > 0 and predicted["totals"]["adopt"] == 1
    assert predicted["schema"]["fields_created"] > 0 and predicted["budget"]["days_needed"] == 1
    without_run = {key: value for key, value in predicted.items() if key != "run_id"}
    assert without_run == {key: value for key, value in actual.items() if key != "run_id"}
    said = rehearsed["rehearsed"].output
    totals = predicted["totals"]
    assert (f"the real run will create {totals['create']}, adopt {totals['adopt']}, update {totals['update']} "
            f"and skip {totals['skip']} records") in said


def test_the_migration_report_has_the_same_numbers(rehearsed):
    out = rehearsed["walk"].out
    twin = summarise(ReportInputs(out / "rehearsal" / "pipedrive", out / "rehearsal" / "transform", out / "x"))
    real = summarise(ReportInputs(out / "pipedrive", out / "transform", out / "y"))
    for section in ("migration", "totals", "records", "source_reconciliation", "load_reconciliation", "skips"):
        assert twin[section] == real[section], section
    assert twin["migration"]["totals"]["adopted"] == 1


def test_the_rehearsal_outputs_are_private(rehearsed):
    assert loose_modes(rehearsed["walk"].project / "output") == []
