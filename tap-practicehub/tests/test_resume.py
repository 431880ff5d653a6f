"""Resume: a run killed with SIGKILL mid-stream restarts from its last completed window, not from scratch."""

from __future__ import annotations

import json
import os
import signal
import subprocess

from testkit.tap_run import STREAM_ORDER, TAP, ids, parse_messages, tap_config, write_json


def _run_until_killed(tmp_path, config, stream: str, records_before_kill: int) -> list[dict]:
    """Run the tap; SIGKILL it at the first checkpoint of ``stream`` after that many of its records."""
    command = [TAP, "--config", str(write_json(tmp_path / "config.json", config))]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                               env={**os.environ, "PYTHONUNBUFFERED": "1"})
    lines, records = [], 0
    for line in process.stdout:
        lines.append(line)
        message = json.loads(line)
        if message["type"] == "RECORD" and message["stream"] == stream:
            records += 1
        if message["type"] == "STATE" and records >= records_before_kill:
            process.send_signal(signal.SIGKILL)
            break
    process.wait(timeout=30)
    process.stdout.close()
    assert process.returncode == -signal.SIGKILL, "the tap finished before it could be killed"
    return parse_messages("".join(lines))


def test_killed_run_resumes_from_last_completed_window(practicehub_sandbox_factory, tap_runner, tmp_path):
    sandbox = practicehub_sandbox_factory(rate=40.0, burst=2)
    config = tap_config(sandbox, requests_per_second=40.0, page_size=2, window_records=4)
    first = _run_until_killed(tmp_path, config, "appointments", records_before_kill=8)
    state = [m["value"] for m in first if m["type"] == "STATE"][-1]
    bookmark = state["bookmarks"]["appointments"]["replication_key_value"]
    first_ids = {s: {m["record"]["id"] for m in first if m["type"] == "RECORD" and m["stream"] == s}
                 for s in STREAM_ORDER}
    served = sandbox.dataset
    assert first_ids["appointments"] and len(first_ids["appointments"]) < len(served["appointments"])

    sandbox.reset_stats()
    second = tap_runner(config, state=state)
    assert second.returncode == 0, second.stderr[-2000:]
    for stream in STREAM_ORDER:
        union = first_ids[stream] | set(ids(second.records[stream]))
        assert union == set(ids(served[stream])), stream
    # Windows completed before the kill are not read again: nothing older than the bookmark comes back.
    resumed = second.records["appointments"]
    assert resumed and all(r["updated"] >= bookmark for r in resumed)
    before = [r for r in served["appointments"] if r["updated"] < bookmark]
    assert before and not {r["id"] for r in before} & set(ids(resumed))
    # Streams finished before the kill cost one request each in the second run.
    by_resource = sandbox.stats()["by_resource"]
    for stream in STREAM_ORDER[: STREAM_ORDER.index("appointments")]:
        assert by_resource.get(stream) == 1, stream
