"""Three small practices migrated at once by the fleet demo (Dagster, shared PostgreSQL state).

Each landed exactly once in its own Pipedrive sandbox, nothing crossed between practices, each practice's
state is its own row of the one system database, the steps of a practice never overlapped while different
practices ran side by side, and the delta schedule asks for every practice in its cutover window.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime

import pytest

from scripts.local_postgres import postgres_bin
from tests.e2e.conftest import copy_project, meltano_env

pytestmark = pytest.mark.slow

ENVIRONMENTS = ("fleet-north", "fleet-south", "fleet-west")
ASSETS = ("practicehub_audit", "confirmed_mapping", "preflight_plan", "full_migration", "migration_report",
          "cutover_delta")


@pytest.fixture(scope="module")
def fleet(tmp_path_factory):
    if postgres_bin() is None:
        pytest.skip("PostgreSQL server binaries not installed (scripts/system-packages.sh installs them as root)")
    project = copy_project(tmp_path_factory.mktemp("fleet-project"))
    figures, evidence = project / "fleet.json", project / "evidence.json"
    env = meltano_env(project)
    for name in ("MELTANO_DATABASE_URI", "MELTANO_PROJECT_ROOT", "DAGSTER_HOME", "FLEET_SETTINGS_DIR"):
        env.pop(name, None)
    done = subprocess.run(
        [sys.executable, "scripts/fleet_demo.py", "--dataset", "tiny", "--speed", "50", "--json-out", str(figures),
         "--evidence", str(evidence)],
        cwd=project, env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    return {"project": project, "stdout": done.stdout, "stderr": done.stderr, "figures": json.loads(figures.read_text()),
            "evidence": json.loads(evidence.read_text())}


def _source_id_key(fleet, environment: str) -> str:
    """The Pipedrive key of the persons' PracticeHub id field, from the target's field map of this practice."""
    rows = json.loads((fleet["project"] / "output" / environment / "pipedrive" / "field_map.json").read_text())
    return next(row["key"] for row in rows if row["entity"] == "persons" and row["logical_name"] == "practicehub_id")


def _migrated_persons(fleet, environment: str) -> list[tuple[str, dict]]:
    """(PracticeHub id, person) for every person of this practice's account that the migration landed."""
    key = _source_id_key(fleet, environment)
    persons = fleet["evidence"]["practices"][environment]["pipedrive"]["persons"]
    return [(str(person["custom_fields"][key]), person) for person in persons
            if (person.get("custom_fields") or {}).get(key)]


def test_one_line_per_practice_and_where_the_ui_starts(fleet):
    lines = [line for line in fleet["stdout"].splitlines() if line.startswith(tuple(f"{e}: " for e in ENVIRONMENTS))
             and "records landed" in line]
    assert len(lines) == 3, fleet["stdout"]
    assert all("verify ok" in line and "reconcile: 0 unexplained" in line for line in lines), lines
    assert "dagster dev -m practicehub_fleet.definitions" in fleet["stdout"]


def test_the_dagster_console_shows_each_steps_figures_and_no_debug_events(fleet):
    """INFO and above in the step workers too (the demo instance's python_logs), not only in the run's process."""
    console = fleet["stderr"].splitlines()  # Dagster's console logger writes to stderr
    assert not [line for line in console if " - DEBUG - " in line], fleet["stderr"][-4000:]
    reports = [line for line in console if " - INFO - " in line and "migration_report: records_landed" in line]
    assert len(reports) == 3, fleet["stderr"][-4000:]


def test_each_practice_landed_exactly_once_in_its_own_account(fleet):
    practices = fleet["evidence"]["practices"]
    for environment in ENVIRONMENTS:
        ids = Counter(source for source, _ in _migrated_persons(fleet, environment))
        assert ids and max(ids.values()) == 1, (environment, ids.most_common(3))  # no person landed twice
        reconcile = json.loads((fleet["project"] / "output" / environment / "pipedrive" / "reconcile.json").read_text())
        assert reconcile["unexplained"] == 0
        patients = reconcile["streams"]["patients"]
        # every patient is a person of its own, or merged into one, or cannot exist in Pipedrive (deleted)
        assert len(ids) == patients["records"] - patients["merged"] - patients["not_landed_accepted"], patients
        assert len(ids) == len(practices[environment]["patients"]) - patients["merged"] - \
            patients["not_landed_accepted"]


def test_nothing_crossed_between_practices(fleet):
    practices = fleet["evidence"]["practices"]
    names = {env: {f"patients:{p['id']}": " ".join(f"{p['first_name']} {p['last_name']}".split())
                   for p in practices[env]["patients"]} for env in ENVIRONMENTS}
    shared_ids = set.intersection(*(set(by_id) for by_id in names.values()))
    assert any(len({names[env][i] for env in ENVIRONMENTS}) == 3 for i in shared_ids), \
        "the three practices must differ, or a crossing could not be seen"
    for environment in ENVIRONMENTS:
        for source, person in _migrated_persons(fleet, environment):
            # each migrated person is this practice's patient, by id and by name
            assert source in names[environment], (environment, source)
            assert " ".join(person["name"].split()) == names[environment][source], (environment, source)


def test_state_is_one_row_per_practice_in_the_shared_database(fleet):
    state = fleet["evidence"]["state"]
    assert sorted(state) == sorted(f"{env}:tap-practicehub-to-target-pipedrive" for env in ENVIRONMENTS)
    assert all(state[key] for key in state)  # completed bookmarks, not empty rows
    for environment in ENVIRONMENTS:  # and the target's ledger is the practice's own
        assert (fleet["project"] / "output" / environment / "pipedrive" / "ledger.sqlite").is_file()


def test_a_practice_never_ran_two_steps_at_once_while_practices_ran_side_by_side(fleet):
    steps = fleet["figures"]["steps"]
    by_practice = {env: sorted(times for key, times in steps.items() if key.startswith(env.replace("-", "_")))
                   for env in ENVIRONMENTS}
    for environment, spans in by_practice.items():
        assert len(spans) == len(ASSETS), (environment, spans)
        assert all(earlier[1] <= later[0] for earlier, later in zip(spans, spans[1:], strict=False)), environment
    full = {env: steps[f"{env.replace('-', '_')}__full_migration"] for env in ENVIRONMENTS}
    first, second = sorted(full.values())[:2]
    everything = [span for spans in by_practice.values() for span in spans]
    overlapping = sum(1 for a in everything for b in everything if a is not b and a[0] < b[1] and b[0] < a[1])
    assert overlapping > 0, "no two practices' steps ran at the same time"
    assert first and second


def test_every_step_is_a_materialization_of_its_practice_with_the_figures(fleet):
    for environment, assets in fleet["figures"]["practices"].items():
        full, delta, report = assets["full_migration"], assets["cutover_delta"], assets["migration_report"]
        assert full["created"] > 0 and full["tokens_used"] > 0 and full["days_of_budget_left"] > 0, full
        assert full["field_mismatches"] == 0 and full["entities_verified"] >= full["created"], full
        assert delta["run_status"] == "nothing changed" and delta["records_landed"] == 0, delta  # nothing twice
        assert report["records_landed"] >= full["created"] and report["reconciled"] is True, report
        assert report["html_report"].endswith(f"output/{environment}/report/migration_report.html")
        assert (fleet["project"] / "output" / environment / "report" / "migration_report.html").is_file()


def test_the_schedule_asks_a_delta_of_each_practice_in_its_cutover_window(fleet, monkeypatch):
    import dagster as dg
    from practicehub_fleet.schedules import cutover_delta_schedule

    home = fleet["project"] / "output" / "fleet" / "dagster-home"
    tick = datetime.now(UTC)
    with dg.DagsterInstance.from_config(str(home)) as instance:
        requests = cutover_delta_schedule(dg.build_schedule_context(instance=instance, scheduled_execution_time=tick))
        assert sorted(request.partition_key for request in requests) == sorted(ENVIRONMENTS)
        assert len({request.run_key for request in requests}) == 3  # one run per practice per tick
        monkeypatch.setenv("FLEET_CUTOVER_HOURS", "0")  # the window has closed
        closed = cutover_delta_schedule(dg.build_schedule_context(instance=instance, scheduled_execution_time=tick))
        assert isinstance(closed, dg.SkipReason)
