"""Benchmark: the whole pipeline (tap | mapper | target) on a larger practice, without and with faults.

Both sandboxes run in this process on 127.0.0.1; the three stages run as real processes joined by pipes
(tests/reliability/pipeline.py). The faulted run switches on, on both sides, a realistic fault rate:
PracticeHub 2% 5xx, 1% dropped connections, 0.5% stalls past the tap's timeout; Pipedrive 2% 5xx,
1% 429, 1% dropped connections, 0.5% stalls past the target's timeout. A stopped run is re-run (up to 4
times) as an operator would. Each scenario then checks: completed, nothing lost (same landed + skipped
source IDs as the fault-free run), no duplicate source ID in Pipedrive, `target-pipedrive verify` clean.
Wall time and each stage's peak memory (VmHWM) go to bench/results/faults.md.

    .venv/bin/python bench/bench_faults.py [--profile demo] [--seed 3]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.reliability.checks import accounted, duplicates, pending_rows  # noqa: E402
from tests.reliability.conftest import start_pipedrive, start_practicehub  # noqa: E402
from tests.reliability.pipeline import COMMANDS, Workspace, clean_env  # noqa: E402

RESULTS = REPO / "bench" / "results" / "faults.md"
MAX_RUNS = 4
PRACTICEHUB_FAULTS = {"fault_5xx": 0.02, "fault_drop": 0.01, "fault_slow": 0.005, "slow_seconds": 4.0}
PIPEDRIVE_FAULTS = {"fault_5xx": 0.02, "fault_429": 0.01, "fault_drop": 0.01, "fault_stall": 0.005,
                    "stall_seconds": 8.0}
TIMEOUTS = {"tap": {"request_timeout": 2, "max_retries": 10}, "target": {"request_timeout": 5}}


class PeakMemory(threading.Thread):
    """Polls /proc for this process's children and keeps each command's VmHWM (its own high-water mark)."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.peaks: dict[str, int] = {}
        self.stopped = threading.Event()

    def run(self) -> None:
        names = {Path(path).name: stage for stage, path in COMMANDS.items()}
        while not self.stopped.wait(0.2):
            for entry in Path("/proc").iterdir():
                if not entry.name.isdigit():
                    continue
                try:
                    status = (entry / "status").read_text()
                    cmdline = (entry / "cmdline").read_bytes().split(b"\0")
                except OSError:
                    continue
                if f"PPid:\t{os.getpid()}\n" not in status:
                    continue
                stage = next((s for n, s in names.items() for arg in cmdline[:2] if arg.endswith(n.encode())), None)
                for line in status.splitlines():
                    if stage and line.startswith("VmHWM:"):
                        self.peaks[stage] = max(self.peaks.get(stage, 0), int(line.split()[1]))


def scenario(name: str, profile: str, seed: int, root: Path, mapping: Path, faults: bool, seats: int) -> dict:
    practicehub = start_practicehub(profile, rate=200.0, seed=0, **(PRACTICEHUB_FAULTS if faults else {}))
    pipedrive = start_pipedrive(root / f"{name}.sqlite3", seed=seed, seats=seats)
    try:
        ws = Workspace(root / name, practicehub, pipedrive, mapping, tap=TIMEOUTS["tap"], target=TIMEOUTS["target"])
        before = pipedrive.snapshot()
        if faults:
            pipedrive.configure(**PIPEDRIVE_FAULTS)
        memory = PeakMemory()
        memory.start()
        started = time.monotonic()
        runs = []
        for _ in range(MAX_RUNS):
            result = ws.run(timeout=3600)
            runs.append(result)
            if result.ok:
                break
        wall = time.monotonic() - started
        memory.stopped.set()
        memory.join()
        pipedrive.configure(fault_5xx=0.0, fault_429=0.0, fault_drop=0.0, fault_stall=0.0, clear_faults=True)
        verify = ws.target_command("verify", timeout=1800)
        after = pipedrive.snapshot()
        return {
            "name": name, "wall": wall, "runs": len(runs), "completed": runs[-1].ok,
            "stops": [r.describe()[:300] for r in runs if not r.ok],
            "accounted": accounted(ws.target_state_dir), "duplicates": duplicates(ws, before, after),
            "pending": pending_rows(ws.target_state_dir), "verify_ok": verify.returncode == 0,
            "verify_line": next((line for line in verify.stderr.splitlines() if line.startswith("verify")), ""),
            "peaks": memory.peaks, "source_records": sum(len(v) for v in practicehub.dataset.values()),
        }
    finally:
        practicehub.stop()
        pipedrive.stop()


def confirmed_mapping(folder: Path) -> Path:
    """Propose from the tiny practice (catalog + sample) and confirm, as the test suite does."""
    sandbox = start_practicehub("tiny")
    try:
        config = folder / "tap.json"
        config.write_text(json.dumps({"base_url": sandbox.base_url, "api_keys": list(sandbox.api_keys),
                                      "app_details": "bench=bench@example.com", "requests_per_second": 200.0}))
        env = clean_env()
        with open(folder / "catalog.json", "w") as out:
            subprocess.run([COMMANDS["tap"], "--config", str(config), "--discover"], stdout=out, check=True, env=env,
                           stderr=subprocess.DEVNULL)
        with open(folder / "sample.singer", "w") as out:
            subprocess.run([COMMANDS["tap"], "--config", str(config), "--catalog", str(folder / "catalog.json")],
                           stdout=out, check=True, env=env, stderr=subprocess.DEVNULL)
    finally:
        sandbox.stop()
    mapping = folder / "mapping.yml"
    subprocess.run([COMMANDS["mapper"], "propose", "--catalog", str(folder / "catalog.json"), "--sample",
                    str(folder / "sample.singer"), "--out", str(mapping)], check=True, env=env, capture_output=True)
    subprocess.run([COMMANDS["mapper"], "confirm", "--mapping", str(mapping), "--by", "bench"], check=True, env=env,
                   capture_output=True)
    return mapping


def write_results(profile: str, clean: dict, faulted: dict, seats: int) -> str:
    lost = sorted(clean["accounted"] - faulted["accounted"])
    extra = sorted(faulted["accounted"] - clean["accounted"])
    ok = (faulted["completed"] and not lost and not extra and not faulted["duplicates"] and faulted["verify_ok"]
          and not faulted["pending"])
    rows = []
    for r in (clean, faulted):
        peaks = ", ".join(f"{stage} {kib / 1024:.0f} MiB" for stage, kib in sorted(r["peaks"].items()))
        rows.append(f"| {r['name']} | {r['wall']:.1f} s | {r['runs']} | {'yes' if r['completed'] else 'NO'} |"
                    f" {len(r['accounted'])} | {len(r['duplicates'])} | {r['verify_line']} | {peaks} |")
    text = f"""# Faults benchmark (bench/bench_faults.py)

Run {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {platform.node()} ({os.cpu_count()} CPUs, load average
{os.getloadavg()[0]:.1f} at the end, Python {platform.python_version()}), profile `{profile}` ({clean['source_records']} source records), tap at
200 req/s, Pipedrive sandbox Premium x{seats} seats at time_scale 50.

Faults: PracticeHub {PRACTICEHUB_FAULTS}; Pipedrive {PIPEDRIVE_FAULTS}. Client timeouts: tap
{TIMEOUTS['tap']['request_timeout']} s, target {TIMEOUTS['target']['request_timeout']} s. A stopped run is
re-run (at most {MAX_RUNS}).

| scenario | wall time (all runs) | runs | completed | source IDs landed or skipped | duplicate problems | verify | peak memory (VmHWM) |
|---|---|---|---|---|---|---|---|
{chr(10).join(rows)}

Faulted vs fault-free wall time: x{faulted['wall'] / clean['wall']:.2f}.
Result: {'PASS' if ok else 'FAIL'} — lost {len(lost)}, extra {len(extra)}, duplicates {faulted['duplicates'] or 'none'},
pending ledger rows {len(faulted['pending'])}.
{('Stopped runs: ' + '; '.join(faulted['stops'])) if faulted['stops'] else ''}
{('Lost (first 10): ' + str(lost[:10])) if lost else ''}
"""
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(text, encoding="utf-8")
    return text


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profile", default="demo", choices=["tiny", "demo", "clinic-50k"])
    parser.add_argument("--seats", type=int, default=3, help="Pipedrive seats: the daily budget (clinic-50k: 8)")
    parser.add_argument("--seed", type=int, default=3, help="seeds the Pipedrive sandbox's faults")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="bench-faults-"))
    try:
        mapping = confirmed_mapping(root)
        clean = scenario("fault-free", args.profile, args.seed, root, mapping, faults=False, seats=args.seats)
        faulted = scenario("faulted", args.profile, args.seed, root, mapping, faults=True, seats=args.seats)
        print(write_results(args.profile, clean, faulted, args.seats))
        return 0
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
