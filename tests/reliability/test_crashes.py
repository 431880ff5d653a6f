"""SIGKILL the tap, the mapper or the target at seeded points, resume, and end exactly like a clean run."""

from __future__ import annotations

import random

import pytest

from tests.reliability.checks import accounted, assert_complete
from tests.reliability.pipeline import Kill

KILLS_PER_STAGE = 7  # 21 kill points across the three processes
SEED = 20261125
# Kill-point ranges for the tiny practice (the tap writes ~210 lines, the mapper ~250): early enough
# that each killed run leaves work for the next, so the chain of runs crosses the whole migration.
MAX_LINES = {"tap": 40, "mapper": 60, "target": 150}
MAX_SECONDS = {"tap": 1.0, "mapper": 1.0, "target": 3.0}


def kill_points(stage: str) -> list[Kill]:
    rng = random.Random(f"{SEED}-{stage}")
    return [Kill.pick(rng, stage, MAX_LINES[stage], MAX_SECONDS[stage]) for _ in range(KILLS_PER_STAGE)]


@pytest.mark.parametrize("stage", ["tap", "mapper", "target"])
def test_killed_runs_resume_to_the_clean_result(stage, baseline, practicehub_sandbox_factory,
                                                 pipedrive_sandbox_factory, workspace_factory):
    practicehub = practicehub_sandbox_factory("tiny", api_keys=baseline.workspace.practicehub.api_keys)
    pipedrive = pipedrive_sandbox_factory(plan="premium", seats=3, fixture="in-use", time_scale=50.0)
    ws = workspace_factory(practicehub, pipedrive)
    before = pipedrive.snapshot()
    fired = []
    for kill in kill_points(stage):
        result = ws.run(kill)
        fired.append(result.killed)
        if result.killed:
            assert result.returncodes[stage] == -9, f"{kill}: {result.describe()}"
        else:
            assert result.ok, f"{kill} came too late, and the run failed: {result.describe()}"
    assert sum(fired) >= KILLS_PER_STAGE - 2, f"most kill points must hit a running {stage}: {fired}"
    final = ws.run()
    assert final.ok, final.describe()
    assert_complete(ws, before, accounted(baseline.workspace.target_state_dir))
