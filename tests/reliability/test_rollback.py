"""full -> delta -> rollback (SIGKILLed once, then run again): the account is back to its pre-migration state.

Pre-existing records the migration adopts are not part of this test yet: today restoring them fails
(`PATCH /v2/persons/<id> -> 400: org_id: None for not nullable`, the same for an organization's
`address`), see the report.
"""

from __future__ import annotations

import random
import signal
import subprocess
import time

from tests.reliability.checks import jsonl, live
from tests.reliability.pipeline import COMMANDS, clean_env

# Pipedrive sets these itself on every write: a restore cannot put them back (see the report).
VOLATILE = {"update_time", "last_update_user_id"}
SEED = 7


def comparable(snapshot: dict) -> dict:
    """The snapshot with deleted records left out and server-set timestamps removed."""
    out = {}
    for entity, records in snapshot.items():
        if not isinstance(records, list):
            out[entity] = records
            continue
        rows = live(snapshot, entity) if entity in {"organizations", "persons", "deals", "activities", "notes",
                                                      "files", "pipelines", "stages"} else records
        out[entity] = sorted(({k: v for k, v in r.items() if k not in VOLATILE} for r in rows),
                             key=lambda r: str(r.get("id", r.get("key"))))
    return out


def kill_rollback_midway(ws, rng: random.Random) -> int:
    """Start `target-pipedrive rollback --all`, SIGKILL it after a seeded number of applied steps."""
    progress = ws.target_state_dir / "rollback_progress.jsonl"
    stop_after = rng.randint(5, 40)
    process = subprocess.Popen([COMMANDS["target"], "rollback", "--config", str(ws.root / "target.json"), "--all"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ws.root, env=clean_env())
    deadline = time.monotonic() + 120
    while process.poll() is None and time.monotonic() < deadline:
        if len(jsonl(progress)) >= stop_after:
            process.send_signal(signal.SIGKILL)
            break
        time.sleep(0.02)
    process.wait(timeout=30)
    assert process.returncode == -signal.SIGKILL, "the rollback finished before the kill point"
    return len(jsonl(progress))


def test_rollback_after_full_and_delta_restores_the_account(practicehub_sandbox_factory,
                                                             pipedrive_sandbox_factory, workspace_factory):
    rng = random.Random(SEED)
    practicehub = practicehub_sandbox_factory("tiny")
    pipedrive = pipedrive_sandbox_factory(plan="premium", seats=3, fixture="in-use", time_scale=50.0)
    ws = workspace_factory(practicehub, pipedrive)
    pre = pipedrive.snapshot()

    full = ws.run(run_id="full")
    assert full.ok, full.describe()
    dataset = practicehub.dataset
    for patient in rng.sample(dataset["patients"], 3):
        practicehub.patch_record("patients", patient["id"], {"mobile": "07700 900999"})
    appointment = rng.choice(dataset["appointments"])
    practicehub.patch_record("appointments", appointment["id"], {"status": "cancelled",
                                                                "cancelDate": appointment["start"]})
    delta = ws.run(run_id="delta")
    assert delta.ok, delta.describe()

    migrated = pipedrive.snapshot()
    manifest = jsonl(ws.target_state_dir / "manifest.jsonl")
    assert {e["type"] for e in manifest if e["op"] == "create"} >= {"field", "persons", "deals", "notes"}
    assert comparable(migrated) != comparable(pre)

    applied = kill_rollback_midway(ws, rng)
    assert applied > 0 and comparable(pipedrive.snapshot()) != comparable(pre)
    again = ws.target_command("rollback", "--all")
    assert again.returncode == 0, again.stderr[-2000:]

    assert comparable(pipedrive.snapshot()) == comparable(pre)
