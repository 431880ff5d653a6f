"""The assumed resources (Patient Library assets, prescriptions): off unless listed, then read like the rest."""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

import requests
from tap_practicehub.attachments import download_attachment
from testkit.tap_run import STREAM_ORDER, ids, tap_config

ASSUMED = ["patient_library", "prescriptions"]


def test_assumed_resources_are_read_only_when_listed(practicehub_sandbox, tap_runner):
    plain = tap_runner(tap_config(practicehub_sandbox))
    assert plain.returncode == 0, plain.stderr[-2000:]
    assert plain.schema_order == STREAM_ORDER  # an account without these endpoints is never asked for them

    run = tap_runner(tap_config(practicehub_sandbox, assumed_resources=ASSUMED))
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.schema_order == STREAM_ORDER + ASSUMED
    served = practicehub_sandbox.dataset
    for stream in ASSUMED:
        assert sorted(ids(run.records[stream])) == ids(served[stream]), stream
    sent = [r for r in run.records["prescriptions"] if r["pharmacy_order_reference"]]
    assert sent and all(r["pharmacy_name"] and r["pharmacy_status"] for r in sent)
    assert all(isinstance(r["patient_ids"], list) for r in run.records["patient_library"])


def test_library_assets_are_downloaded_byte_exact_in_their_own_folder(practicehub_sandbox, tap_runner, tmp_path):
    files_dir = tmp_path / "downloads"
    run = tap_runner(tap_config(practicehub_sandbox, assumed_resources=["patient_library"], download_files=True,
                                files_dir=str(files_dir)))
    assert run.returncode == 0, run.stderr[-2000:]
    assets = run.records["patient_library"]
    assert len(assets) == len(practicehub_sandbox.dataset["patient_library"])
    for asset in assets:
        assert asset["download_error"] is None
        saved = Path(asset["local_path"])
        assert saved.parent == files_dir / "patient_library"
        assert saved.stat().st_mode & 0o777 == 0o600
        data = saved.read_bytes()
        assert len(data) == asset["downloaded_size"] == asset["size"]
        assert hashlib.sha256(data).hexdigest() == asset["sha256"]
        assert hashlib.sha256(requests.get(asset["url"], timeout=10).content).hexdigest() == asset["sha256"]
    # Attachments keep their folder; an asset never overwrites one.
    assert all(Path(f["local_path"]).parent == files_dir for f in run.records["files"])


def test_an_expired_asset_link_is_reported_on_the_record(practicehub_sandbox, tmp_path):
    response = requests.get(f"{practicehub_sandbox.base_url}/patient_library", headers=practicehub_sandbox.headers,
                            params={"page_size": 1}, timeout=10)
    asset = response.json()["data"][0]
    base, _query = asset["url"].split("?", 1)
    asset["url"] = f"{base}?expires=1&signature=0"  # a link whose lifetime is over
    result = download_attachment(asset, tmp_path, timeout=5, attempts=3, logger=logging.getLogger("test"),
                                 label="patient_library")
    assert result["download_error"] == "HTTP 403 fetching the signed URL"
    assert result["local_path"] is None and result["sha256"] is None
    assert not list(tmp_path.iterdir())


def test_prescriptions_are_incremental(practicehub_sandbox, tap_runner):
    config = tap_config(practicehub_sandbox, assumed_resources=["prescriptions"])
    first = tap_runner(config)
    assert first.returncode == 0, first.stderr[-2000:]
    prescription_id = ids(practicehub_sandbox.dataset["prescriptions"])[2]
    practicehub_sandbox.patch_record("prescriptions", prescription_id, {"pharmacy_status": "collected"})
    second = tap_runner(config, state=first.states[-1])
    assert second.returncode == 0, second.stderr[-2000:]
    assert ids(second.records["prescriptions"]) == [prescription_id]
    assert second.records["prescriptions"][0]["pharmacy_status"] == "collected"


def test_an_unknown_assumed_resource_is_a_clear_setting_error(practicehub_sandbox, tap_runner):
    run = tap_runner(tap_config(practicehub_sandbox, assumed_resources=["prescriptions", "lab_results"]))
    assert run.returncode == 2
    assert "`assumed_resources` 'lab_results' unknown" in run.stderr
    assert "Traceback" not in run.stderr
