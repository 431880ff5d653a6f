"""Benchmark: the clinic-50k practice end to end through Meltano, at both APIs' real limits time-scaled alike.

`meltano run full-migration` (tap-practicehub → map-practicehub-pipedrive → target-pipedrive) in a private
copy of the project, against practicehub-sandbox (1 request/s per key × SCALE) and pipedrive-sandbox
(the plan's burst window and daily budget, time × SCALE), both on 127.0.0.1. Measures:

- wall time of the run ÷ the physical limit, goal <= 1.10. The physical limit is the larger of
  extraction's minimum (pages the practice needs at 100 rows each ÷ allowed requests/s) and load's
  minimum (write calls the landed entities need, one each since Pipedrive has no bulk create, plus the
  schema objects created ÷ allowed requests/s; more if the tokens exceed one day's budget), because the
  pipeline streams: loading starts while extraction goes on;
- peak memory of the whole pipeline (meltano and its tap, mapper and target processes, summed at each
  sample), goal < 500 MB;
- then `verify` on everything landed, and the run's reconciliation.

Set-up (copy, `meltano install`, propose/confirm of the mapping) is not timed.

    .venv/bin/python bench/bench_e2e.py [--scale 2] [--plan growth --seats 8] [--keys 1]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import secrets
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from urllib.request import Request, urlopen

import psutil

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
RESULTS = ROOT / "bench" / "results" / "e2e.md"
PAGE_SIZE = 100
BURST = {"lite": 20, "growth": 40, "premium": 100, "ultimate": 120}  # requests per 2 s window, API token
MULTIPLIER = {"lite": 1, "growth": 2, "premium": 5, "ultimate": 7}
DAY_SECONDS = 86_400
LOADED_STREAMS = {"organizations", "persons", "deals", "activities", "notes", "files"}


def http_json(url: str, method: str = "GET", body: dict | None = None, token: str | None = None):
    request = Request(url, method=method, data=json.dumps(body).encode() if body is not None else None)
    request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("x-api-token", token)
    with urlopen(request, timeout=60) as response:  # loopback sandboxes only
        return json.loads(response.read() or b"{}")


def copy_project(into: Path) -> Path:
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                            capture_output=True, check=True).stdout.split(b"\0")
    for name in filter(None, (item.decode() for item in listed)):
        source = ROOT / name
        if source.is_file():
            (into / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, into / name)
    return into


def add_bench_environment(project: Path, rate: float, max_concurrency: int) -> None:
    """A `bench` environment (outputs in output/bench): the tap paced at the scaled PracticeHub limit."""
    meltano_yml = project / "meltano.yml"
    text = meltano_yml.read_text()
    block = (
        "environments:\n"
        "  - name: bench\n"
        "    config:\n"
        "      plugins:\n"
        "        extractors:\n"
        "          - name: tap-practicehub\n"
        "            config:\n"
        f"              requests_per_second: {rate}\n"
        "        loaders:\n"
        "          - name: target-pipedrive\n"
        "            config:\n"
        f"              max_concurrency: {max_concurrency}\n"
    )
    meltano_yml.write_text(text.replace("environments:\n", block, 1))


class Sandbox:
    def __init__(self, name: str, args: list[str], log: Path) -> None:
        self._log = log.open("w")
        self.process = subprocess.Popen([str(BIN / name), "--port", "0", *args], stdout=subprocess.PIPE,
                                        stderr=self._log, text=True)
        line = self.process.stdout.readline().strip()
        if " listening on " not in line:
            self.stop()
            raise SystemExit(f"{name} did not start; see {log}")
        self.url = line.rsplit(" ", 1)[-1]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
        self._log.close()


class TreeMemory:
    """Peak of the summed RSS of a process and all its descendants, sampled every 100 ms."""

    def __init__(self, pid: int) -> None:
        self.root = psutil.Process(pid)
        self.peak_total = 0
        self.peak_by_name: dict[str, int] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            total = 0
            try:
                processes = [self.root, *self.root.children(recursive=True)]
            except psutil.Error:
                return
            for process in processes:
                try:
                    rss = process.memory_info().rss
                    name = _process_label(process)
                except psutil.Error:
                    continue
                total += rss
                self.peak_by_name[name] = max(self.peak_by_name.get(name, 0), rss)
            self.peak_total = max(self.peak_total, total)
            self._stop.wait(0.1)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)


def _process_label(process: psutil.Process) -> str:
    for part in process.cmdline()[:3]:
        for name in ("tap-practicehub", "map-practicehub-pipedrive", "target-pipedrive", "meltano"):
            if part.endswith(name):
                return name
    return process.name()


class Bench:
    def __init__(self, args: argparse.Namespace, workdir: Path) -> None:
        self.args = args
        self.workdir = workdir
        self.project = copy_project(workdir / "project")
        self.migration = self.project / "output" / "bench"
        (self.migration / "logs").mkdir(parents=True)
        add_bench_environment(self.project, args.scale, args.max_concurrency)
        self.env = dict(os.environ)
        self.env.update({
            "PATH": f"{BIN}{os.pathsep}{self.env.get('PATH', '')}",
            "MELTANO_ENVIRONMENT": "bench",
            "MELTANO_SEND_ANONYMOUS_USAGE_STATS": "false",
            "MELTANO_CLI_DISABLE_VERSION_CHECK": "1",
            "XDG_STATE_HOME": str(self.project / ".meltano" / "xdg-state"),
            "UV_CACHE_DIR": str(ROOT / ".meltano" / "uv-cache"),
        })
        self.sandboxes: list[Sandbox] = []

    def meltano(self, *args: str, stdout: Path | None = None) -> float:
        log = self.migration / "logs" / f"{args[0]}-{args[1] if len(args) > 1 else ''}.log".replace(":", "_")
        started = time.monotonic()
        with log.open("a") as err, (stdout.open("w") if stdout else err) as out:
            code = subprocess.run([str(BIN / "meltano"), *args], cwd=self.project, env=self.env, stdout=out,
                                  stderr=err, check=False).returncode
        if code != 0:
            tail = "".join(log.read_text().splitlines(keepends=True)[-20:])
            raise SystemExit(f"`meltano {' '.join(args)}` failed ({code}); {log}:\n{tail}")
        return time.monotonic() - started

    def start_sandboxes(self) -> None:
        a = self.args
        keys = [f"bench-key-{secrets.token_hex(6)}" for _ in range(a.keys)]
        self.practicehub = Sandbox("practicehub-sandbox", [
            "--dataset", a.practice, "--api-keys", ",".join(keys), "--rate", str(a.scale), "--burst", "2",
            "--rate-scope", "key"], self.migration / "logs" / "practicehub-sandbox.log")
        self.sandboxes.append(self.practicehub)
        self.token = secrets.token_hex(20)
        self.pipedrive = Sandbox("pipedrive-sandbox", [
            "--api-token", self.token, "--fixture", "in-use", "--plan", a.plan, "--seats", str(a.seats),
            "--time-scale", str(a.scale), "--db", str(self.migration / "pipedrive-sandbox.sqlite")],
            self.migration / "logs" / "pipedrive-sandbox.log")
        self.sandboxes.append(self.pipedrive)
        admin = http_json(f"{self.pipedrive.url}/api/v1/users/me", token=self.token)["data"]
        self.env.update({
            "PRACTICEHUB_BASE_URL": self.practicehub.url, "PRACTICEHUB_API_KEYS": json.dumps(keys),
            "PRACTICEHUB_APP_DETAILS": "practicehub-bench=bench@example.com", "PRACTICEHUB_TIMEZONE": "UTC",
            "PIPEDRIVE_BASE_URL": self.pipedrive.url, "PIPEDRIVE_API_TOKEN": self.token,
            "PIPEDRIVE_FALLBACK_OWNER_EMAIL": admin["email"], "PIPEDRIVE_PLAN": a.plan,
            "PIPEDRIVE_SEATS": str(a.seats), "PHI_POLICY": "include", "BAA_REFERENCE": "bench: synthetic practice",
        })

    def practicehub_pages(self) -> tuple[int, int]:
        """Records in the practice and the pages a perfect extraction needs (full pages, one per 100 rows)."""
        control = self.practicehub.url.removesuffix("/api") + "/_sandbox/records"
        catalog = json.loads((self.migration / "catalog.json").read_text())
        counts = [len(http_json(f"{control}/{entry['tap_stream_id']}")) for entry in catalog["streams"]]
        return sum(counts), sum(max(1, math.ceil(n / PAGE_SIZE)) for n in counts)

    def prepare(self) -> dict:
        timings = {"install": self.meltano("install", "extractor", "tap-practicehub")}
        timings["install"] += self.meltano("install", "mapper", "map-practicehub-pipedrive")
        timings["install"] += self.meltano("install", "loader", "target-pipedrive")
        self.start_sandboxes()
        started = time.monotonic()
        self.meltano("invoke", "tap-practicehub", "--discover", stdout=self.migration / "catalog.json")
        self.meltano("invoke", "tap-practicehub", "--test=record", stdout=self.migration / "sample.singer")
        self.meltano("invoke", "map-practicehub-pipedrive:propose")
        self.meltano("invoke", "map-practicehub-pipedrive:confirm")
        timings["mapping"] = time.monotonic() - started
        time.sleep(2.5 / self.args.scale)  # let the PracticeHub bucket refill after the set-up requests
        http_json(f"{self.practicehub.url.removesuffix('/api')}/_sandbox/stats/reset", "POST", {})
        http_json(f"{self.pipedrive.url}/_sandbox/counters/reset", "POST", {}, token=self.token)
        return timings

    def full_run(self) -> dict:
        log = self.migration / "logs" / "run-full-migration.log"
        with log.open("w") as err:
            started = time.monotonic()
            process = subprocess.Popen([str(BIN / "meltano"), "run", "full-migration"], cwd=self.project,
                                       env=self.env, stdout=err, stderr=err)
            memory = TreeMemory(process.pid)
            code = process.wait()
            wall = time.monotonic() - started
            memory.stop()
        if code != 0:
            tail = "".join(log.read_text().splitlines(keepends=True)[-20:])
            raise SystemExit(f"meltano run full-migration failed ({code}); {log}:\n{tail}")
        return {"wall": wall, "peak_total": memory.peak_total, "peak_by_name": memory.peak_by_name}

    def stop(self) -> None:
        for sandbox in reversed(self.sandboxes):
            sandbox.stop()


def manifest_creates(state_dir: Path) -> tuple[int, int]:
    """Writes the run could not have avoided, from the manifest: (creates and updates, of which schema objects)."""
    writes = schema = 0
    for line in (state_dir / "manifest.jsonl").read_text().splitlines():
        entry = json.loads(line)
        if entry.get("op") in ("create", "update") and not entry.get("adopted"):
            writes += 1
            schema += entry.get("type") not in LOADED_STREAMS
    return writes, schema


def physical_limit(args, pages: int, creates: tuple[int, int], tokens: int) -> dict:
    extract = pages / (args.scale * args.keys)
    writes, schema_created = creates
    allowed = BURST[args.plan] / 2.0 * args.scale
    load = writes / allowed
    budget = 30_000 * MULTIPLIER[args.plan] * args.seats
    days_needed = tokens / budget
    if days_needed > 1:  # the rest waits for the next day's budget
        load = max(load, math.floor(days_needed) * DAY_SECONDS / args.scale)
    return {"extract": extract, "load": load, "limit": max(extract, load), "writes": writes,
            "schema_created": schema_created, "allowed_calls_per_s": allowed, "budget": budget,
            "days_needed": days_needed}


def report(args, timings, run, limit, counters, summary, verify, records, pages, reconciliation) -> str:
    mb = 1024 * 1024
    ratio = run["wall"] / limit["limit"]
    bound = "load" if limit["load"] >= limit["extract"] else "extraction"
    rows = [
        ("wall time of `meltano run full-migration` (s)", f"{run['wall']:.1f}", ""),
        ("physical limit (s): max(extraction, load)", f"{limit['limit']:.1f} ({bound})", ""),
        ("  extraction minimum (s)", f"{limit['extract']:.1f}",
         f"{pages} pages for {records:,} records at {args.scale:g} req/s × {args.keys} key(s)"),
        ("  load minimum (s)", f"{limit['load']:.1f}",
         f"{limit['writes']:,} writes ({limit['schema_created']} schema objects) at "
         f"{limit['allowed_calls_per_s']:.0f} calls/s; tokens {counters['tokens_used']:,} = "
         f"{limit['days_needed']:.2f} of a day's {limit['budget']:,}"),
        ("**wall ÷ physical limit** (goal ≤ 1.10)", f"**{ratio:.3f}**", "met" if ratio <= 1.10 else "MISSED"),
        ("**peak memory, whole pipeline (MB)** (goal < 500)", f"**{run['peak_total'] / mb:.0f}**",
         "met" if run["peak_total"] < 500 * mb else "MISSED"),
        ("  per process peak (MB)", ", ".join(f"{name} {rss / mb:.0f}" for name, rss in
                                              sorted(run["peak_by_name"].items())), ""),
        ("Pipedrive calls / 429s", f"{counters['requests']:,} / {counters['status_429']}",
         f"{counters['requests'] / max(summary['totals']['created'], 1):.3f} calls per created entity"),
        ("entities received / created / skipped by target",
         f"{summary['totals']['received']:,} / {summary['totals']['created']:,} / {summary['totals']['skipped']:,}", ""),
        ("mapper reconciliation", "balanced" if reconciliation.get("balanced") else "NOT balanced", ""),
        ("verify", f"{verify.get('entities_checked', 0):,} entities, {verify.get('mismatches', '?')} mismatches",
         ""),
    ]
    lines = [
        "# End-to-end benchmark (clinic-50k through Meltano)",
        "",
        f"`bench/bench_e2e.py`, run {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {platform.machine()}, "
        f"{os.cpu_count()} CPUs (load average {os.getloadavg()[0]:.1f} at the end). Time scale ×{args.scale:g} on "
        f"both sides: PracticeHub {args.scale:g} req/s per key ({args.keys} key(s), the real limit is 1), "
        f"Pipedrive plan {args.plan} ({BURST[args.plan]} requests per 2 s, window {2 / args.scale:.2f} s), "
        f"{args.seats} seats; target max_concurrency {args.max_concurrency}. Set-up (not timed): install "
        f"{timings['install']:.0f} s, discover + sample + propose + confirm {timings['mapping']:.0f} s.",
        "",
        "| measure | value | note |",
        "|---|---:|---|",
        *[f"| {a} | {b} | {c} |" for a, b, c in rows],
        "",
        "- The pipeline streams: the target loads persons while the tap still reads appointments, so the run",
        "  cannot beat the slower side; wall time includes Meltano's start-up and the final state write.",
        "- Memory is the sum of the resident sizes of meltano and every process it started, sampled every",
        "  100 ms; the sandboxes are separate processes and are not counted.",
        "",
    ]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--practice", default="clinic-50k")
    parser.add_argument("--scale", type=float, default=2.0, help="time scale applied to both APIs' limits")
    parser.add_argument("--keys", type=int, default=1, help="PracticeHub API keys")
    parser.add_argument("--plan", default="growth", choices=sorted(BURST))
    parser.add_argument("--seats", type=int, default=8, help="daily budget: clinic-50k needs about 350,000 tokens")
    parser.add_argument("--max-concurrency", type=int, default=8)
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    parser.add_argument("--results", type=Path, default=RESULTS)
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="bench-e2e-"))
    bench = Bench(args, workdir)
    try:
        timings = bench.prepare()
        records, pages = bench.practicehub_pages()
        print(f"set-up done ({timings}); {records:,} records need {pages} pages", flush=True)
        run = bench.full_run()
        print(f"full migration: {run['wall']:.1f} s, peak {run['peak_total'] / 2**20:.0f} MB", flush=True)
        counters = http_json(f"{bench.pipedrive.url}/_sandbox/counters", token=bench.token)["data"]
        state_dir = bench.migration / "pipedrive"
        summary = json.loads((state_dir / "summary.json").read_text())
        creates = manifest_creates(state_dir)
        reconciliation_path = bench.migration / "transform" / "reconciliation.json"
        reconciliation = json.loads(reconciliation_path.read_text()) if reconciliation_path.is_file() else {}
        bench.meltano("invoke", "target-pipedrive:verify")
        verify = json.loads((state_dir / "verify_summary.json").read_text())
    finally:
        bench.stop()
    limit = physical_limit(args, pages, creates, counters["tokens_used"])
    text = report(args, timings, run, limit, counters, summary, verify, records, pages, reconciliation)
    args.results.write_text(text)
    print(text)
    if args.keep:
        print(f"work folder kept: {workdir}")
    else:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
