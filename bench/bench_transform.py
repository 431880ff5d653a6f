"""Benchmark: records per second through the map-practicehub-pipedrive PROCESS, and its peak memory.

Singer messages for the `clinic-50k` profile (practicehub_sandbox.data.generate, rendered as the tap
emits them) are written to a temp file, piped to the console script's stdin (`--config FILE`, as Meltano
starts it: the mapper's one run path, the SDK's InlineMapper), and its stdout is written to a file. Wall
time covers the whole subprocess (start-up included). Goal: >= 20,000 records/s. The results file's
sections from PRESERVED on (measurements made by hand, e.g. of a removed run path) are kept.

    .venv/bin/python bench/bench_transform.py [--profile clinic-50k] [--runs 3]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from map_practicehub_pipedrive.mapping import confirm, default_mapping, dump  # noqa: E402
from testkit.mapper_run import as_tap_emits, singer_lines  # noqa: E402

SCRIPT = Path(sys.executable).parent / "map-practicehub-pipedrive"
GOAL = 20_000
PRESERVED = "## Run paths compared"


def source_records(profile: str, seed: int) -> tuple[dict, str]:
    try:
        from practicehub_sandbox.data import generate
    except ImportError:
        from testkit.synthetic import generate as synthetic

        patients = {"tiny": 50, "demo": 2_000, "clinic-50k": 12_000}[profile]
        return synthetic(patients, seed), f"testkit.synthetic ({patients} patients; sandbox generator absent)"
    return as_tap_emits(generate(profile, seed)), f"practicehub_sandbox.data.generate({profile!r}, {seed})"


def _peak_kib(pid: int, last: int) -> int:
    """The process's own high-water mark (VmHWM): after exec, so the parent's memory is not counted."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return max(last, int(line.split()[1]))
    except (FileNotFoundError, ProcessLookupError):
        pass
    return last


def run_once(input_path: Path, config_path: Path, output_path: Path) -> tuple[float, float, int]:
    """Wall time, CPU time (user + system, immune to other load on the machine) and peak RSS in KiB."""
    peak = 0
    with input_path.open("rb") as stdin, output_path.open("wb") as stdout:
        started = time.perf_counter()
        process = subprocess.Popen([str(SCRIPT), "--config", str(config_path)], stdin=stdin, stdout=stdout,
                                   stderr=subprocess.DEVNULL)
        while True:
            peak = _peak_kib(process.pid, peak)
            pid, status, usage = os.wait4(process.pid, os.WNOHANG)
            if pid:
                break
            time.sleep(0.02)
        wall = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode:
        raise SystemExit(f"mapper failed with exit code {process.returncode}")
    return wall, usage.ru_utime + usage.ru_stime, peak


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--profile", default="clinic-50k")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--results", default=str(REPO / "bench" / "results" / "transform.md"))
    args = parser.parse_args()

    records, origin = source_records(args.profile, args.seed)
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        input_path = folder / "input.singer"
        lines = singer_lines(records, state_every=10_000)
        input_path.write_text("\n".join(lines) + "\n", "utf-8")
        record_count = sum(len(rows) for rows in records.values())
        mapping = folder / "mapping.yml"
        mapping.write_text(dump(default_mapping()), "utf-8")
        confirm(mapping, by="bench")
        empty = folder / "empty.singer"
        empty.write_text("", "utf-8")
        startup = []
        for run in range(3):  # the fixed cost: interpreter, SDK import, mapping load, reports
            config = folder / f"config-empty{run}.json"
            config.write_text(json.dumps({"mapping_file": str(mapping), "phi_policy": "include",
                                          "baa_reference": "BENCH", "reports_dir": str(folder / "reports-empty")}))
            startup.append(run_once(empty, config, folder / "empty-out.singer")[:2])
        startup_wall, startup_cpu = min(startup)
        print(f"start-up (empty input): {startup_wall:.2f} s wall, {startup_cpu:.2f} s CPU")
        rows = []
        for run in range(1, args.runs + 1):
            config = folder / f"config{run}.json"
            config.write_text(json.dumps({"mapping_file": str(mapping), "phi_policy": "include",
                                          "baa_reference": "BENCH", "reports_dir": str(folder / f"reports{run}")}))
            output_path = folder / f"output{run}.singer"
            load = os.getloadavg()[0]  # other work on the machine stretches wall time (CPU time much less)
            wall, cpu, peak_kib = run_once(input_path, config, output_path)
            with output_path.open("rb") as handle:
                out_lines = sum(1 for _ in handle)
            reconciliation = json.loads((folder / f"reports{run}" / "reconciliation.json").read_text())
            rows.append({"run": run, "wall": wall, "rate": record_count / wall, "cpu": cpu,
                         "cpu_rate": record_count / cpu, "peak_mib": peak_kib / 1024,
                         "out_lines": out_lines, "balanced": reconciliation["balanced"], "load": load})
            print(f"run {run}: {record_count} records in {wall:.2f} s = {record_count / wall:,.0f} records/s "
                  f"(CPU {cpu:.2f} s = {record_count / cpu:,.0f} records/s), "
                  f"peak RSS {peak_kib / 1024:.0f} MiB, {out_lines} output lines, "
                  f"balanced={reconciliation['balanced']}, load average {load:.1f}")
        input_mib = input_path.stat().st_size / 2**20

    best = max(rows, key=lambda row: row["rate"])
    table = ["# map-practicehub-pipedrive benchmark", "",
             f"Run {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {platform.processor() or platform.machine()}, "
             f"Python {platform.python_version()}; input: {origin}, {record_count:,} RECORD messages "
             f"({input_mib:.1f} MiB of Singer messages with a STATE every 10,000 records), phi_policy include.",
             "Wall time of the whole mapper process (start-up included), stdin from a file, stdout to a file; "
             "peak RSS is the mapper's own VmHWM, sampled every 20 ms.", "",
             "| run | wall time (s) | records/s (wall) | CPU time (s) | records/s (CPU) | peak RSS (MiB) | "
             "output lines | reconciliation | load avg (1 min) before |",
             "|---|---|---|---|---|---|---|---|---|"]
    table += [f"| {row['run']} | {row['wall']:.2f} | {row['rate']:,.0f} | {row['cpu']:.2f} | {row['cpu_rate']:,.0f} | "
              f"{row['peak_mib']:.0f} | "
              f"{row['out_lines']:,} | {'balanced' if row['balanced'] else 'NOT balanced'} | {row['load']:.1f} |"
              for row in rows]
    steady = max(record_count / (row["cpu"] - startup_cpu) for row in rows)
    table += ["", f"Start-up (empty input, best of 3): {startup_wall:.2f} s wall, {startup_cpu:.2f} s CPU; "
              f"records/s on CPU time without start-up: {steady:,.0f}."]
    verdict = "meets" if best["rate"] >= GOAL else "misses"
    load = os.getloadavg()[0]
    table += ["", f"Best wall-clock rate: {best['rate']:,.0f} records/s ({verdict} the goal of {GOAL:,} records/s); "
              f"best CPU-time rate {max(row['cpu_rate'] for row in rows):,.0f} records/s; "
              f"peak RSS {max(row['peak_mib'] for row in rows):.0f} MiB. Load average when done: {load:.1f} "
              f"on {os.cpu_count()} CPUs (other jobs share the machine: wall time varies, CPU time much less).", ""]
    results = Path(args.results)
    earlier = results.read_text("utf-8") if results.exists() else ""
    kept = earlier[earlier.index(PRESERVED):] if PRESERVED in earlier else ""
    results.write_text("\n".join(table) + ("\n" + kept if kept else ""), "utf-8")
    print(f"wrote {args.results}")


if __name__ == "__main__":
    main()
