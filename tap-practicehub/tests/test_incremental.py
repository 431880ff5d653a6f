"""Incremental runs: the second run reads only what changed since the first run's bookmarks."""

from __future__ import annotations

from testkit.tap_run import STREAM_ORDER, ids, tap_config


def test_second_run_returns_only_changed_records(practicehub_sandbox, tap_runner):
    config = tap_config(practicehub_sandbox, page_size=10)
    first = tap_runner(config)
    assert first.returncode == 0, first.stderr[-2000:]
    state = first.states[-1]
    bookmarks = {stream: b["replication_key_value"] for stream, b in state["bookmarks"].items()}

    patient_id = ids(practicehub_sandbox.dataset["patients"])[3]
    appointment_id = ids(practicehub_sandbox.dataset["appointments"])[5]
    practicehub_sandbox.patch_record("patients", patient_id, {"city": "Leeds"})
    practicehub_sandbox.patch_record("appointments", appointment_id, {"status": "cancelled"})
    practicehub_sandbox.reset_stats()

    second = tap_runner(config, state=state)
    assert second.returncode == 0, second.stderr[-2000:]
    served = practicehub_sandbox.dataset
    for stream in STREAM_ORDER:
        # Changed records, plus any updated exactly at the (inclusive) bookmark.
        expected = {r["id"] for r in served[stream] if r["updated"] >= bookmarks[stream]}
        assert set(ids(second.records[stream])) == expected, stream
    assert patient_id in ids(second.records["patients"])
    assert appointment_id in ids(second.records["appointments"])
    assert sum(len(records) for records in second.records.values()) <= 4
    # One small page per stream: nothing was re-read.
    assert practicehub_sandbox.stats()["requests"] == len(STREAM_ORDER)
    assert all(b["replication_key_value"] >= bookmarks[s] for s, b in second.states[-1]["bookmarks"].items())


def test_start_date_limits_the_first_run(practicehub_sandbox, tap_runner):
    updated = sorted(r["updated"] for r in practicehub_sandbox.dataset["appointments"])
    middle = updated[len(updated) // 2]
    run = tap_runner(tap_config(practicehub_sandbox, start_date=middle.replace(" ", "T")))
    assert run.returncode == 0, run.stderr[-2000:]
    expected = {r["id"] for r in practicehub_sandbox.dataset["appointments"] if r["updated"] >= middle}
    assert set(ids(run.records["appointments"])) == expected
