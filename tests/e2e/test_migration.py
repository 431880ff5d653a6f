"""The README's main job, end to end through Meltano, on the tiny practice: every step, then rollback."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.e2e.conftest import meltano_env

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def migration(project_copy):
    result = subprocess.run(
        [sys.executable, "scripts/migrate_demo.py", "--confirm-mapping", "--rollback", "--practice", "tiny",
         "--speed", "50", "--changes", "3"],
        cwd=project_copy, env=meltano_env(project_copy), capture_output=True, text=True, timeout=1500,
    )
    return result, project_copy / "output" / "demo"


def _summaries(out):
    runs = sorted((out / "pipedrive").glob("summary-*.json"))
    return [json.loads(path.read_text()) for path in runs]


def test_every_step_succeeds_and_rollback_restores_the_account(migration):
    result, _ = migration
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "Rollback restored the Pipedrive account exactly" in result.stdout
    assert "Migration report:" in result.stdout


def test_counts_reconcile_from_source_to_pipedrive(migration):
    result, out = migration
    assert result.returncode == 0
    reconciliation = json.loads((out / "transform" / "reconciliation.json").read_text())
    for stream, counts in reconciliation["streams"].items():
        accounted = sum(value for key, value in counts.items() if key != "in" and type(value) is int)
        assert counts["in"] == accounted, (stream, counts)
    for summary in _summaries(out):
        assert summary["reconciles"], summary["run_id"]
        for stream, counts in summary["streams"].items():
            landed = counts["created"] + counts["updated"] + counts["unchanged"] + counts["skipped"]
            assert counts["received"] == landed and counts["waiting"] == 0, (stream, counts)


def test_verify_finds_no_mismatch(migration):
    result, out = migration
    assert result.returncode == 0
    verify = json.loads((out / "pipedrive" / "verify_summary.json").read_text())
    assert verify["ok"] is True and verify["mismatches"] == 0
    assert verify["entities_checked"] > 0


def test_delta_run_writes_only_the_changed_records(migration):
    result, out = migration
    assert result.returncode == 0
    sample, full, delta = _summaries(out)[-3:]
    assert full["totals"]["created"] > 0
    # 3 patients and up to 3 appointments were changed in PracticeHub between the full and the delta run
    assert delta["totals"]["created"] == 0
    assert 1 <= delta["totals"]["updated"] <= 6
    assert delta["api"]["writes"] == delta["totals"]["updated"]


def test_report_numbers_match_the_run(migration):
    result, out = migration
    assert result.returncode == 0
    report = json.loads((out / "report" / "migration_report.json").read_text())
    assert report["reconciled"] is True
    assert (out / "report" / "migration_report.html").stat().st_size > 0
    last = _summaries(out)[-1]
    assert json.dumps(last["run_id"]) in json.dumps(report)


def test_every_output_of_the_demo_is_private(migration):
    """Logs, Singer captures, snapshots, the sandbox's database, reports: files 0600, folders 0700."""
    from tests.e2e.walkthrough import loose_modes

    result, out = migration
    assert result.returncode == 0
    assert (out / "logs").is_dir() and (out / "pipedrive-account.json").is_file()
    assert loose_modes(out.parent) == []


def test_library_assets_land_byte_exact_on_each_person_and_prescriptions_keep_the_pharmacy(migration):
    """The demo environment reads the assumed resources: every asset upload holds the sandbox's exact bytes."""
    import sqlite3

    from practicehub_sandbox.blobs import blob_bytes
    from practicehub_sandbox.data import generate

    result, out = migration
    assert result.returncode == 0
    checked = json.loads((out / "pipedrive" / "reconcile.json").read_text())["streams"]
    for stream in ("patient_library", "prescriptions"):
        row = checked[stream]
        assert row["records"] > 0 and row["different"] == 0 and row["not_landed"] == 0, (stream, row)
    source = generate("tiny")
    live = {p["id"] for p in source["patients"] if not p["deleted"]}
    database = sqlite3.connect(out / "pipedrive-sandbox.sqlite")  # rollback deletes records, keeps the bytes
    files = [(record_id, json.loads(data)) for record_id, data in
             database.execute("SELECT id, data FROM records WHERE entity = 'files'")]
    notes = [json.loads(data)["content"] for (data,) in database.execute(
        "SELECT data FROM records WHERE entity = 'notes'")]
    uploads = 0
    for asset in source["patient_library"]:
        landed = [record_id for record_id, data in files if data.get("file_name") == asset["file_name"]]
        assert bool(landed) == bool(set(asset["patient_ids"]) & live), asset["id"]
        assert len(landed) <= len(asset["patient_ids"])
        want = blob_bytes(0, f"patient_library/{asset['id']}", asset["size"], asset["mime_type"])
        for record_id in landed:
            (content,) = database.execute("SELECT content FROM blobs WHERE file_id = ?", (record_id,)).fetchone()
            assert bytes(content) == want, asset["id"]
        uploads += len(landed)
    assert uploads > len([a for a in source["patient_library"] if a["patient_ids"]])  # several persons each
    references = [p["pharmacy_order_reference"] for p in source["prescriptions"]
                  if p["pharmacy_order_reference"] and p["patient_id"] in live]
    assert references and all(any(ref in content for content in notes) for ref in references[:5])
