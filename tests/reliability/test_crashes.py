"""SIGKILL the tap, the mapper or the target at seeded points, resume, and end exactly like a clean run."""

from __future__ import annotations

import random

from tests.reliability.checks import accounted, assert_complete
from tests.reliability.pipeline import STAGES, Kill

KILL_POINTS = 21  # at least 20 across the three processes, each stage hit at least 5 times
SEED = 20261125
# Line counts (the tap's and mapper's output, the target's input) early in a run of the tiny practice,
# plus a short delay, so that each killed run leaves work for the next.
MAX_LINES = {"tap": 10, "mapper": 10, "target": 10}
MAX_SECONDS = {"tap": 0.1, "mapper": 0.1, "target": 0.15}
TOUCHED_PER_RUN = 20  # source records edited before each run, so every run has work at every stage


def kill_plan(rng: random.Random) -> list[Kill]:
    stages = [STAGES[i % 3] for i in range(KILL_POINTS)]
    rng.shuffle(stages)
    return [Kill.pick(rng, stage, MAX_LINES[stage], MAX_SECONDS[stage]) for stage in stages]


def touch_records(practicehub, rng: random.Random, run: int) -> None:
    """Edit a few patients, re-save a few appointments (new `updated`): the delta a run must carry through."""
    dataset = practicehub.dataset
    for record in rng.sample(dataset["patients"], TOUCHED_PER_RUN):
        practicehub.patch_record("patients", record["id"], {"mobile": f"07700 9{run:05d}"})
    for record in rng.sample(dataset["appointments"], TOUCHED_PER_RUN):
        practicehub.patch_record("appointments", record["id"], {"status": record["status"]})


def test_killed_runs_resume_to_the_clean_result(baseline, practicehub_sandbox_factory, pipedrive_sandbox_factory,
                                                 workspace_factory):
    rng = random.Random(SEED)
    practicehub = practicehub_sandbox_factory("tiny")
    pipedrive = pipedrive_sandbox_factory(plan="premium", seats=3, fixture="in-use", time_scale=50.0)
    ws = workspace_factory(practicehub, pipedrive)
    before = pipedrive.snapshot()
    hits = {stage: 0 for stage in STAGES}
    for number, kill in enumerate(kill_plan(rng), 1):
        if number > 1:
            touch_records(practicehub, rng, number)
        result = ws.run(kill)
        if result.killed:
            hits[kill.stage] += 1
            assert result.returncodes[kill.stage] == -9, f"{kill}: {result.describe()}"
        else:
            assert result.ok, f"{kill} came after the end, and the run failed: {result.describe()}"
    assert sum(hits.values()) >= 18 and min(hits.values()) >= 5, f"kill points that hit a running process: {hits}"

    final = ws.run()
    assert final.ok, final.describe()
    assert_complete(ws, before, accounted(baseline.workspace.target_state_dir))
