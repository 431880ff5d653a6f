"""Extraction benchmark: tap-practicehub against the PracticeHub sandbox, time-scaled.

clinic-50k (50,000 records) at 20 req/s per key with 1, 2 and 4 keys (sandbox --rate-scope key), then a
short run at the real 1 req/s. Measures efficiency (achieved req/s / allowed), records per request, 429s
and the tap process's peak RSS. Prints a markdown table and writes bench/results/extract.md.

    .venv/bin/python bench/bench_extract.py [--keys 1,2,4] [--rate 20] [--real-seconds 30]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
RESULTS = ROOT / "bench" / "results" / "extract.md"
UNLIMITED = 100_000.0  # req/s: no pacing and no bucket, to find what the machine itself can serve


def start_sandbox(dataset: str, keys: list[str], rate: float, burst: int) -> tuple[subprocess.Popen, str]:
    process = subprocess.Popen(
        [str(BIN / "practicehub-sandbox"), "--port", "0", "--dataset", dataset, "--api-keys", ",".join(keys),
         "--rate", str(rate), "--burst", str(burst), "--rate-scope", "key"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )
    line = process.stdout.readline()
    if "listening on" not in line:
        process.kill()
        raise SystemExit(f"sandbox did not start: {line!r}")
    return process, line.split()[-1]


def sandbox_stats(base_url: str) -> dict:
    with urllib.request.urlopen(base_url.removesuffix("/api") + "/_sandbox/stats", timeout=30) as answer:
        return json.load(answer)


def run_tap(config: dict, seconds: float | None = None) -> dict:
    """Run the tap; count its RECORD messages and sample its RSS. ``seconds`` stops it early (SIGTERM)."""
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as handle:
        json.dump(config, handle)
    process = subprocess.Popen([str(BIN / "tap-practicehub"), "--config", handle.name], stdout=subprocess.PIPE,
                               stderr=subprocess.DEVNULL, text=True)
    peak = [0]

    def sample() -> None:
        watched = psutil.Process(process.pid)
        while process.poll() is None:
            try:
                peak[0] = max(peak[0], watched.memory_info().rss)
            except psutil.Error:
                return
            time.sleep(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    if seconds:
        threading.Timer(seconds, process.terminate).start()
    started = time.monotonic()
    records = sum(1 for line in process.stdout if line.startswith('{"type":"RECORD"'))
    process.wait()
    elapsed = time.monotonic() - started
    sampler.join(timeout=1)
    os.unlink(handle.name)
    return {"records": records, "elapsed": elapsed, "peak_rss_mb": peak[0] / 2**20, "returncode": process.returncode}


def measure(label: str, dataset: str, keys: int, rate: float, burst: int, seconds: float | None = None) -> dict:
    api_keys = [f"bench-key-{n}" for n in range(keys)]
    sandbox, base_url = start_sandbox(dataset, api_keys, rate, burst)
    try:
        config = {"base_url": base_url, "api_keys": api_keys, "app_details": "bench=bench@example.com",
                  "requests_per_second": rate}
        tap = run_tap(config, seconds)
        stats = sandbox_stats(base_url)
    finally:
        sandbox.terminate()
        sandbox.wait(timeout=30)
    times = sorted(entry["at"] for entry in stats["log"])
    span = times[-1] - times[0] if len(times) > 1 else float("nan")
    achieved = (len(times) - keys) / span  # each key's sends span (its count - 1) intervals
    ok = stats["status_counts"].get("200", 0)
    return {
        "run": label, "keys": keys, "allowed": rate * keys, "requests": stats["requests"], "achieved": achieved,
        "efficiency": achieved / (rate * keys), "records": tap["records"],
        "records_per_request": tap["records"] / ok if ok else 0.0, "429": stats["status_counts"].get("429", 0),
        "elapsed": tap["elapsed"], "peak_rss_mb": tap["peak_rss_mb"], "returncode": tap["returncode"],
    }


def _ceiling(row: dict) -> str:
    if "ceiling" not in row:
        return "- | -"
    return f"{row['ceiling']:.1f} | {row['achieved'] / min(row['allowed'], row['ceiling']):.3f}"


def table(rows: list[dict]) -> str:
    lines = [
        "| run | keys | allowed req/s | requests | achieved req/s | efficiency | records | records/request "
        "| 429s | wall s | tap peak RSS MB | machine ceiling req/s | achieved / min(allowed, ceiling) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['run']} | {r['keys']} | {r['allowed']:.0f} | {r['requests']} | {r['achieved']:.2f} | "
            f"{r['efficiency']:.3f} | {r['records']} | {r['records_per_request']:.1f} | {r['429']} | "
            f"{r['elapsed']:.1f} | {r['peak_rss_mb']:.0f} | {_ceiling(r)} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", default="1@20,2@20,4@20,4@10", help="KEYS@REQ_PER_SECOND_PER_KEY, comma-separated")
    parser.add_argument("--burst", type=int, default=2, help="sandbox bucket size (default 2, see the notes)")
    parser.add_argument("--dataset", default="clinic-50k")
    parser.add_argument("--real-seconds", type=float, default=30.0, help="length of each 1 req/s run (0: skip)")
    parser.add_argument("--real-keys", default="1,4", help="key counts of the 1 req/s runs")
    args = parser.parse_args()

    runs = [(int(keys), float(rate)) for keys, rate in (item.split("@") for item in args.runs.split(","))]
    ceilings = {}
    for keys in sorted({keys for keys, _ in runs}):
        unlimited = measure("ceiling", args.dataset, keys, UNLIMITED, int(UNLIMITED))
        ceilings[keys] = unlimited["achieved"]
        print(f"machine ceiling with {keys} key(s): {ceilings[keys]:.1f} req/s", flush=True)
    rows = []
    for keys, rate in runs:
        row = measure(f"{args.dataset} @ {rate:g}/s/key", args.dataset, keys, rate, args.burst)
        row["ceiling"] = ceilings[keys]
        rows.append(row)
        print(table(rows[-1:]).splitlines()[-1], flush=True)
    for keys in [int(k) for k in args.real_keys.split(",")] if args.real_seconds > 0 else []:
        rows.append(measure(f"{args.dataset} @ 1/s (real rate, first {args.real_seconds:g} s)", args.dataset, keys,
                            1.0, 1, seconds=args.real_seconds))
        print(table(rows[-1:]).splitlines()[-1], flush=True)
    report = "\n".join([
        "# Extraction benchmark (tap-practicehub)",
        "",
        f"`bench/bench_extract.py`, run {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} on "
        f"{os.cpu_count()} CPUs (load average {os.getloadavg()[0]:.1f} at the end: the machine is shared). The sandbox and the tap run as separate processes on 127.0.0.1; the sandbox "
        "limits each key (`--rate-scope key`).",
        "",
        table(rows),
        "",
        "- efficiency = achieved req/s (sandbox's own log, first to last request) / allowed (rate x keys); "
        "goal >= 0.95.",
        "- records/request = records emitted / successful requests; goal 100 except last pages and the "
        "window probes (one extra request per split window).",
        f"- time-scaled runs use sandbox burst {args.burst}: at 20 req/s the Python sandbox adds a few ms of "
        "jitter before its bucket sees a request, which a one-token bucket punishes even for evenly spaced "
        "sends; two tokens absorb that and still refuse any sustained excess. The 1 req/s run uses burst 1.",
        "- peak RSS is the tap process only (sampled every 50 ms).",
        "- Each key has one request in flight while answers come back within its interval (always at the "
        "real rate) and up to three when they take longer, so a time-scaled run, where a page's round trip "
        "(sandbox and tap sharing 2 CPUs) can exceed a 50 ms interval, still uses every slot; the tap writes "
        "RECORD lines through a buffer (flushed before each wait and with every other message) in the SDK's "
        "msgspec encoding, and the sandbox caches a filter's rows while a window is paged.",
        "- machine ceiling: the same extraction with no limit on either side (sandbox and tap share the "
        "machine's CPUs); an allowance above it measures the machine, so the last column divides by the "
        "smaller of the two.",
        "",
    ])
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(report)
    print()
    print(report)


if __name__ == "__main__":
    main()
