"""An idle sandbox sleeps: its socket loop waits for traffic instead of spinning (it shares 2 CPUs with the tap)."""

from __future__ import annotations

import time

import pytest
import requests

pytestmark = pytest.mark.paced  # measures a pace: scripts/test.sh runs it with no other suite beside it


def test_idle_sandbox_barely_uses_the_cpu(practicehub_sandbox):
    requests.get(f"{practicehub_sandbox.base_url}/locations", headers=practicehub_sandbox.headers, timeout=10)
    # The sandbox serves from a thread of this process, so the process's CPU time is (mostly) its own.
    cpu_before, wall_before = time.process_time(), time.monotonic()
    time.sleep(1.0)
    cpu_seconds = time.process_time() - cpu_before
    wall_seconds = time.monotonic() - wall_before
    # A busy poll loop burnt a whole CPU here (about 1 s); waiting on poll() takes a few milliseconds.
    assert cpu_seconds < 0.2 * wall_seconds, f"{cpu_seconds:.2f} s of CPU in {wall_seconds:.2f} s idle"
