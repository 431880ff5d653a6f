"""The target loads while its input is still arriving (the pipeline streams), and keeps each source id's order."""

from __future__ import annotations

import copy
import json
import subprocess
import time

from testkit.target_contract import messages
from testkit.target_run import TARGET, live, target_env


def _line(message: dict) -> str:
    return json.dumps(message) + "\n"


def test_writes_start_before_the_input_ends(harness):
    data = harness.practice(n_persons=450)
    msgs = messages({"organizations": data["organizations"], "persons": data["persons"]}, state=False)
    first_part = [m for m in msgs if m["type"] == "SCHEMA" or m.get("stream") == "organizations"]
    persons = [m for m in msgs if m.get("stream") == "persons"]
    mark = harness.log_mark()
    process = subprocess.Popen([*TARGET, "--config", str(harness.config_path())], stdin=subprocess.PIPE,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=target_env(),
                               cwd=harness.workdir)
    try:
        process.stdin.writelines(_line(m) for m in first_part + persons[:300])
        process.stdin.flush()
        deadline = time.monotonic() + 60
        landed = []
        while time.monotonic() < deadline and not landed:
            landed = [w for w in harness.writes(mark) if w["method"] == "POST" and w["path"].endswith("/persons")]
            time.sleep(0.2)
        assert landed, "no person was written while the input was still open"
        assert process.poll() is None
        process.stdin.writelines(_line(m) for m in persons[300:])
        process.stdin.write(_line({"type": "STATE", "value": {"bookmarks": {}}}))
        process.stdin.close()
        assert process.wait(timeout=120) == 0, process.stderr.read()[-2000:]
    finally:
        if process.poll() is None:
            process.kill()
    assert harness.summary()["streams"]["persons"]["created"] == 450


def test_a_source_id_sent_again_in_a_later_batch_ends_with_its_last_content(harness):
    data = harness.practice(n_persons=420)
    again = copy.deepcopy(data["persons"][0])
    again["name"] = "Patient 1, renamed"
    data["persons"] = [data["persons"][0], *data["persons"][1:], again]  # 200-record batches: a later batch
    result = harness.run(data)
    assert result.returncode == 0, result.stderr[-2000:]
    counts = result.summary["streams"]["persons"]
    assert counts["received"] == 421 and counts["created"] == 420 and counts["updated"] == 1
    matches = [p for p in live(harness.sandbox.snapshot(), "persons")
               if (p.get("emails") or [{}])[0].get("value") == again["emails"][0]["value"]]
    assert [p["name"] for p in matches] == ["Patient 1, renamed"]
