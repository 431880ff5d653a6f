"""Rehearsal mode: only into a local twin, a fresh folder each time, no STATE, and the prediction it writes."""

from __future__ import annotations

import json

import pytest
from target_pipedrive import rehearsal
from target_pipedrive.owners import ConfigurationError


def test_a_rehearsal_never_writes_outside_this_machine(harness, tmp_path):
    with pytest.raises(ConfigurationError, match="not a local twin"):
        rehearsal.check_twin("https://acme.pipedrive.com")
    data = harness.practice(n_persons=2)
    result = harness.run(data, in_process=False, rehearsal=True, base_url="https://acme.pipedrive.com")
    assert result.returncode == 2
    assert "'acme.pipedrive.com' is not a local twin" in result.stderr and "Traceback" not in result.stderr
    assert not harness.state_dir.exists()


def test_a_rehearsal_refuses_a_real_migrations_folder(tmp_path):
    (tmp_path / "ledger.sqlite").write_text("")
    with pytest.raises(ConfigurationError, match="holds a migration's state"):
        rehearsal.prepare(tmp_path)
    assert (tmp_path / "ledger.sqlite").exists()


def test_each_rehearsal_starts_afresh_and_predicts_the_run(harness, sandbox):
    data = harness.practice(n_persons=3)
    existing = sandbox.snapshot()["persons"][0]  # an account contact the load adopts: same e-mail and name
    data["persons"][0].update(name=existing["name"], first_name=existing["first_name"],
                              last_name=existing["last_name"], emails=[dict(existing["emails"][0])])
    first = harness.run(data, rehearsal=True, run_id="rehearsal-1")
    assert first.returncode == 0, first.stderr
    prediction = json.loads((harness.state_dir / "rehearsal.json").read_text())
    persons = prediction["streams"]["persons"]
    assert persons == {"records": 3, "create": 2, "adopt": 1, "update": 0, "unchanged": 0, "skip": 0}
    assert prediction["totals"]["create"] == first.summary["totals"]["created"]
    assert prediction["schema"]["fields_created"] > 0 and prediction["schema"]["pipelines_created"] == 1
    assert prediction["budget"]["days_needed"] == 1 and prediction["budget"]["tokens"] == first.summary["api"]["tokens"]
    assert "| persons | 3 | 2 | 1 | 0 | 0 | 0 |" in (harness.state_dir / "rehearsal.md").read_text()

    second = harness.run(data, in_process=False, rehearsal=True, run_id="rehearsal-2")  # the same twin again
    assert second.returncode == 0, second.stderr
    assert '"type":"STATE"' not in second.stdout.replace(" ", "")  # a rehearsal leaves no bookmark
    prediction = json.loads((harness.state_dir / "rehearsal.json").read_text())
    assert prediction["run_id"] == "rehearsal-2" and not list(harness.state_dir.glob("*rehearsal-1*"))
    # a fresh folder (with the first ledger every person would be "unchanged"); the twin itself still holds
    # what the first rehearsal wrote, so all three are adopted: start a fresh twin for each rehearsal
    assert prediction["streams"]["persons"]["adopt"] == 3
