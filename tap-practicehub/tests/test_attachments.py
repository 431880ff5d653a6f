"""Attachments: downloaded byte-exact through the signed URL, without PracticeHub headers."""

from __future__ import annotations

import hashlib
from pathlib import Path

import requests
from testkit.tap_run import ids, tap_config


def test_files_are_downloaded_byte_exact(practicehub_sandbox, tap_runner, tmp_path):
    files_dir = tmp_path / "attachments"
    run = tap_runner(tap_config(practicehub_sandbox, download_files=True, files_dir=str(files_dir)))
    assert run.returncode == 0, run.stderr[-2000:]
    records = run.records["files"]
    assert sorted(ids(records)) == sorted(ids(practicehub_sandbox.dataset["files"]))
    for record in records:
        assert record["download_error"] is None
        saved = Path(record["local_path"])
        assert saved.parent == files_dir
        data = saved.read_bytes()
        assert len(data) == record["downloaded_size"] == record["size"]
        assert hashlib.sha256(data).hexdigest() == record["sha256"]
        # Fetched again independently: the same bytes the sandbox serves.
        assert hashlib.sha256(requests.get(record["url"], timeout=10).content).hexdigest() == record["sha256"]
    assert practicehub_sandbox.stats()["blob_requests"] == 2 * len(records)
    assert not list(files_dir.glob("*.part"))


def test_expired_links_are_reported_on_the_record(practicehub_sandbox_factory, tap_runner, tmp_path):
    sandbox = practicehub_sandbox_factory(url_ttl=1)
    sandbox.configure(url_ttl=1)
    run = tap_runner(tap_config(sandbox, download_files=True, files_dir=str(tmp_path / "f"), page_size=100))
    assert run.returncode == 0, run.stderr[-2000:]
    # With a one-second lifetime some links may still work; any that failed say why and keep their record.
    for record in run.records["files"]:
        assert (record["sha256"] is None) == (record["download_error"] is not None)
    assert len(run.records["files"]) == len(sandbox.dataset["files"])
