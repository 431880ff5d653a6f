"""A full extraction of the tiny sandbox: every record once, in dependency order, state per stream."""

from __future__ import annotations

import json
import subprocess

from testkit.tap_run import STREAM_ORDER, TAP, ids, tap_config


def test_full_run_reads_every_record_once_in_dependency_order(practicehub_sandbox, tap_runner):
    run = tap_runner(tap_config(practicehub_sandbox, page_size=7, window_records=20))
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.schema_order == STREAM_ORDER
    served = practicehub_sandbox.dataset
    for stream in STREAM_ORDER:
        got = ids(run.records[stream])
        assert len(got) == len(set(got)), f"{stream}: duplicate ids"
        assert sorted(got) == sorted(ids(served[stream])), f"{stream}: records missing or extra"
    final = run.states[-1]["bookmarks"]
    assert set(final) == set(STREAM_ORDER)
    assert all(bookmark["replication_key"] == "updated" for bookmark in final.values())
    assert practicehub_sandbox.stats()["status_counts"].get("429", 0) == 0


def test_records_keep_the_api_types(practicehub_sandbox, tap_runner):
    run = tap_runner(tap_config(practicehub_sandbox))
    assert run.returncode == 0, run.stderr[-2000:]
    payment = run.records["payments"][0]
    assert isinstance(payment["patient_id"], str)  # the API sends this foreign key as a string
    assert isinstance(payment["amount"], str) and "." in payment["amount"]
    practitioner = run.records["practitioners"][0]
    assert practitioner["active"] in (0, 1)
    patient = run.records["patients"][0]
    assert len(patient["updated"]) == 19 and patient["updated"][10] == " "  # naive, untouched


def test_discovery_lists_streams_in_dependency_order():
    catalog = json.loads(subprocess.run([TAP, "--discover"], capture_output=True, text=True, check=True).stdout)
    assert [entry["tap_stream_id"] for entry in catalog["streams"]] == STREAM_ORDER
    patients = next(entry for entry in catalog["streams"] if entry["tap_stream_id"] == "patients")
    assert patients["replication_key"] == "updated"
    assert patients["key_properties"] == ["id"]


def test_about_markdown_lists_the_settings():
    about = subprocess.run([TAP, "--about", "--format=markdown"], capture_output=True, text=True, check=True).stdout
    for setting in ("api_keys", "app_details", "region", "requests_per_second", "window_records", "download_files"):
        assert f"| {setting} |" in about


def test_the_tap_provides_everything_its_streams_use():
    """Streams reach their tap through client.StreamsTap (so they never import tap.py): the tap must keep it."""
    from tap_practicehub.client import StreamsTap
    from tap_practicehub.tap import TapPracticeHub

    used = sorted(name for name in vars(StreamsTap) if not name.startswith("_"))
    assert used == ["api", "base_url", "prefetch_after", "take_prefetched", "wait_for"]
    for name in used:
        declared, provided = vars(StreamsTap)[name], getattr(TapPracticeHub, name, None)
        assert provided is not None, f"TapPracticeHub no longer has {name}"
        assert isinstance(provided, property) == isinstance(declared, property), name
