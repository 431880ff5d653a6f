"""README.md's real-account steps, parsed from README.md and run as written against both sandboxes.

Reached only through the settings the README documents; any traceback fails the run. Then: every output
is private (files 0600, folders 0700), no dry pass left a bookmark, and every plugin command of
meltano.yml, run before anything made its inputs, says in one line which command makes them.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from scripts import readme_steps
from tests.e2e.conftest import copy_project
from tests.e2e.walkthrough import Walkthrough, loose_modes

pytestmark = pytest.mark.slow

CHANGED = 2  # patients and appointments changed in PracticeHub before the delta step


@pytest.fixture(scope="module")
def walkthrough(tmp_path_factory):
    project = copy_project(tmp_path_factory.mktemp("readme-project"))
    walk = Walkthrough(project)
    try:
        walk.run_ok(("meltano", "install"))  # the README's "run `meltano install` once"
        for step in readme_steps.migration_steps():
            if step.key == "delta":
                _change_practicehub(walk)
            for command in step.commands:
                walk.run_ok(command)
        yield walk
    finally:
        walk.stop()


def _change_practicehub(walk: Walkthrough) -> None:
    """What the clinic does during the cutover window (sandbox controls, not the API the tap reads)."""
    from practicehub_sandbox.control import SandboxControl

    control = SandboxControl(walk.practicehub.root)
    for patient in sorted(control.records("patients"), key=lambda row: row["id"])[:CHANGED]:
        control.patch_record("patients", patient["id"], {"mobile": "+44 7700 900123"})
    pending = [row for row in control.records("appointments") if row["status"] == "pending"]
    for appointment in sorted(pending, key=lambda row: row["id"])[:CHANGED]:
        control.patch_record("appointments", appointment["id"], {"status": "cancelled"})


def test_the_readme_lists_every_step_with_its_commands():
    steps = readme_steps.migration_steps()
    assert [step.key for step in steps] == ["audit", "propose", "confirm", "preflight", "sample", "full", "delta",
                                            "reconcile", "report", "rollback"]
    assert all(step.commands for step in steps)
    assert [step.number for step in steps] == list(range(1, len(steps) + 1))


def test_every_readme_command_is_a_job_or_plugin_command_of_meltano_yml():
    project = yaml.safe_load((Path(readme_steps.README).parent / "meltano.yml").read_text())
    jobs = {job["name"] for job in project["jobs"]}
    commands = {f"{plugin['name']}:{name}" for kind in project["plugins"].values() for plugin in kind
                for name in plugin.get("commands") or {}}
    for step in readme_steps.migration_steps() + readme_steps.rehearsal_steps():
        for argv in step.commands:
            if argv[:2] == ("meltano", "run"):
                assert argv[-1] in jobs, (step.title, argv)
            elif argv[:2] == ("meltano", "invoke"):
                assert argv[2] in commands, (step.title, argv)
            else:
                assert argv[0] == "pipedrive-sandbox" and "--fixture" in argv, (step.title, argv)


def test_every_step_runs_as_written_without_a_traceback(walkthrough):
    ran = [" ".join(r.argv[1:]) for r in walkthrough.ran]
    assert ran[0] == "install" and len(ran) == 1 + sum(len(s.commands) for s in readme_steps.migration_steps())
    assert all(r.returncode == 0 and "Traceback" not in r.output for r in walkthrough.ran)


def test_the_steps_did_what_the_readme_says(walkthrough):
    out = walkthrough.out
    assert json.loads((out / "audit" / "practicehub-audit.json").read_text())["practicehub"]["records_total"] > 0
    assert (out / "mapping.yml").read_text().count("sha256") >= 1  # proposed, then confirmed
    plan = json.loads((out / "pipedrive" / "preflight.json").read_text())
    assert plan["ok"] and plan["planned_tokens"] > 0 and plan["days_needed"] == 1
    runs = [json.loads(path.read_text()) for path in sorted((out / "pipedrive").glob("summary-*.json"))]
    assert len(runs) == 3  # sample, full, delta: the preflight is a plan, not a load
    assert runs[1]["totals"]["created"] > 0 and runs[2]["totals"]["created"] == 0
    assert 1 <= runs[2]["totals"]["updated"] <= 2 * CHANGED
    assert json.loads((out / "pipedrive" / "reconcile.json").read_text())["unexplained"] == 0
    assert json.loads((out / "report" / "migration_report.json").read_text())["reconciled"] is True
    # rollback (the last step) restored the account: nothing the migration created is left
    persons = walkthrough.pipedrive.get("/api/v2/persons?limit=500", walkthrough.pipedrive_token)["data"]
    assert len(persons) == 8  # the `in-use` account's own


def test_no_dry_pass_left_a_bookmark(walkthrough):
    listed = walkthrough.run(("meltano", "state", "list"))
    assert listed.returncode == 0, str(listed)
    ids = [line.split()[-1] for line in listed.output.splitlines() if "tap-practicehub" in line]
    assert any(state_id.endswith("tap-practicehub-to-target-pipedrive") for state_id in ids)  # full and delta
    assert not [state_id for state_id in ids if "preflight" in state_id or "proposal" in state_id
                or "reconcile" in state_id or "sample" in state_id], ids


def test_every_output_is_private(walkthrough):
    output = walkthrough.project / "output"
    files = [path for path in output.rglob("*") if path.is_file()]
    assert len(files) > 30  # Singer captures, ledger, reports, mapping, downloaded files...
    assert any(path.parent.name == "files" for path in files)  # the downloaded attachments
    assert loose_modes(output) == []


def test_plugin_commands_without_their_inputs_name_the_command_that_makes_them(walkthrough):
    """In an environment where nothing has run yet: one line each, no traceback."""
    project = yaml.safe_load((walkthrough.project / "meltano.yml").read_text())
    reads_only_the_api = {"tap-practicehub:audit", "target-pipedrive:snapshot-account"}
    commands = [f"{plugin['name']}:{name}" for kind in project["plugins"].values() for plugin in kind
                for name in plugin.get("commands") or {} if f"{plugin['name']}:{name}" not in reads_only_the_api]
    assert len(commands) >= 7
    for command in commands:
        ran = walkthrough.run(("meltano", "invoke", command), MELTANO_ENVIRONMENT="dev")
        assert "Traceback" not in ran.output, str(ran)
        said = [line for line in ran.output.splitlines() if "`meltano run " in line or "`meltano invoke " in line]
        assert len(said) == 1, str(ran)
    assert not (walkthrough.project / "output" / "dev" / "pipedrive" / "verify_summary.json").exists()
