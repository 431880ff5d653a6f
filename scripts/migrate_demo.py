"""The whole migration against the local sandboxes, as a user runs it with Meltano.

audit → propose → confirm → preflight → sample → verify → full → (changes in PracticeHub) → delta
→ verify → report [→ rollback]. Each step is a Meltano command from meltano.yml; this script only
starts the sandboxes, sets the environment those commands read, and says what each step did.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import subprocess
import sys
import time
from pathlib import Path
from urllib.request import Request, urlopen

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


class Sandbox:
    """A sandbox CLI started on a free loopback port; stopped when the demo ends."""

    def __init__(self, name: str, args: list[str], log: Path) -> None:
        self.name = name
        self._log = log.open("w")
        self.process = subprocess.Popen(
            [str(BIN / name), "--port", "0", *args], stdout=subprocess.PIPE, stderr=self._log, text=True
        )
        ready = self.process.stdout.readline().strip()
        prefix = f"{name} listening on "
        if not ready.startswith(prefix):
            self.stop()
            raise SystemExit(f"{name} did not start; its log: {log}")
        self.url = ready[len(prefix):]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
        self._log.close()


def http_json(url: str, method: str = "GET", body: dict | None = None, token: str | None = None):
    request = Request(url, method=method, data=json.dumps(body).encode() if body is not None else None)
    request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("x-api-token", token)
    with urlopen(request, timeout=30) as response:  # loopback sandbox only
        return json.loads(response.read() or b"{}")


class Demo:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.workdir = ROOT / "output" / "demo"  # meltano.yml: output/<environment>, here `demo`
        self.env = dict(os.environ)
        self.step_number = 0
        self.sandboxes: list[Sandbox] = []

    # plumbing

    def step(self, title: str) -> None:
        self.step_number += 1
        print(f"\n== {self.step_number}. {title}", flush=True)

    def meltano(self, *args: str, stdout_path: Path | None = None, env: dict | None = None) -> None:
        command = [str(BIN / "meltano"), *args]
        log = self.workdir / "logs" / f"{self.step_number:02d}-{args[0]}.log"
        with log.open("a") as err, (stdout_path.open("w") if stdout_path else err) as out:
            result = subprocess.run(command, cwd=ROOT, env=self.env | (env or {}), stdout=out, stderr=err, check=False)
        if result.returncode != 0:
            tail = "".join(log.read_text().splitlines(keepends=True)[-25:])
            raise SystemExit(f"`meltano {' '.join(args)}` failed (exit {result.returncode}); log {log}:\n{tail}")

    def start_sandboxes(self) -> None:
        logs = self.workdir / "logs"
        keys = [f"demo-key-{secrets.token_hex(8)}" for _ in range(self.args.keys)]
        practicehub = Sandbox(
            "practicehub-sandbox",
            ["--dataset", self.args.practice, "--api-keys", ",".join(keys), "--rate", str(self.args.speed),
             "--burst", "2", "--rate-scope", "key"],
            logs / "practicehub-sandbox.log",
        )
        self.sandboxes.append(practicehub)
        token = secrets.token_hex(20)
        pipedrive = Sandbox(
            "pipedrive-sandbox",
            ["--api-token", token, "--fixture", "in-use", "--plan", self.args.plan, "--seats", str(self.args.seats),
             "--time-scale", str(self.args.speed), "--db", str(self.workdir / "pipedrive-sandbox.sqlite")],
            logs / "pipedrive-sandbox.log",
        )
        self.sandboxes.append(pipedrive)
        self.practicehub, self.pipedrive, self.token = practicehub, pipedrive, token
        admin = http_json(f"{pipedrive.url}/api/v1/users/me", token=token)["data"]  # the token's admin user
        self.env.update(
            {
                "MELTANO_ENVIRONMENT": "demo",
                "MELTANO_DATABASE_URI": f"sqlite:///{self.workdir / 'meltano.db'}",
                "MELTANO_SEND_ANONYMOUS_USAGE_STATS": "false",
                "MELTANO_CLI_DISABLE_VERSION_CHECK": "1",
                "PRACTICEHUB_BASE_URL": practicehub.url,
                "PRACTICEHUB_API_KEYS": json.dumps(keys),
                "PRACTICEHUB_APP_DETAILS": "practicehub-demo=demo@example.com",
                "PRACTICEHUB_TIMEZONE": "UTC",
                "PIPEDRIVE_BASE_URL": pipedrive.url,
                "PIPEDRIVE_API_TOKEN": token,
                "PIPEDRIVE_FALLBACK_OWNER_EMAIL": admin["email"],
                "PIPEDRIVE_PLAN": self.args.plan,
                "PIPEDRIVE_SEATS": str(self.args.seats),
                "PHI_POLICY": "include",  # synthetic patients: nothing real to protect
                "BAA_REFERENCE": "demo: synthetic practice, no real patients",
            }
        )
        print(f"PracticeHub sandbox: {practicehub.url} ({self.args.practice} practice, {self.args.keys} keys, "
              f"{self.args.speed:g} requests/s per key = {self.args.speed:g}x the real limit)")
        print(f"Pipedrive sandbox:   {pipedrive.url} (an account in use, plan {self.args.plan}, "
              f"{self.args.seats} seats, time x{self.args.speed:g}); fallback owner {admin['email']}")

    def change_practicehub_records(self) -> dict:
        """What a clinic does during the cutover window: edits, a new patient, a cancelled visit."""
        control = self.practicehub.url.removesuffix("/api") + "/_sandbox/records"
        patients = http_json(f"{control}/patients")
        appointments = http_json(f"{control}/appointments")
        changed = {"patients": 0, "appointments": 0}
        for patient in sorted(patients, key=lambda row: row["id"])[: self.args.changes]:
            http_json(f"{control}/patients/{patient['id']}", "PATCH", {"mobile": "+44 7700 900" + str(patient["id"])[-3:]})
            changed["patients"] += 1
        pending = [row for row in appointments if row["status"] == "pending"]
        for appointment in sorted(pending, key=lambda row: row["id"])[: self.args.changes]:
            http_json(f"{control}/appointments/{appointment['id']}", "PATCH", {"status": "cancelled"})
            changed["appointments"] += 1
        return changed

    # the steps

    def run(self) -> int:
        if self.workdir.exists():
            shutil.rmtree(self.workdir)
        (self.workdir / "logs").mkdir(parents=True)
        self.step("Install the Meltano plugins")
        self.meltano("install")
        try:
            self.start_sandboxes()
            return self.migrate()
        finally:
            for sandbox in reversed(self.sandboxes):
                sandbox.stop()

    def snapshot(self, name: str) -> dict:
        """The Pipedrive sandbox account's live data (sandbox-only endpoint), kept for the rollback proof."""
        data = http_json(f"{self.pipedrive.url}/_sandbox/snapshot")["data"]
        path = self.workdir / "pipedrive-snapshots" / f"{name}.json"
        path.parent.mkdir(exist_ok=True)
        path.write_text(json.dumps(data, indent=1, sort_keys=True))
        return data

    def migrate(self) -> int:
        out = self.workdir
        before = self.snapshot("before-migration")
        self.step("Audit: what PracticeHub holds, and how long it will take")
        self.meltano("invoke", "tap-practicehub:audit")
        audit = json.loads((out / "audit" / "practicehub-audit.json").read_text())
        print(f"{audit['practicehub']['records_total']:,} records in {len(audit['practicehub']['records'])} resources;"
              f" extraction needs at least {audit['extraction_estimate']['minimum_seconds']:,.0f} s at this rate."
              f" Report: {out / 'audit' / 'practicehub-audit.md'}")

        self.step("Map: propose a mapping from the tap's catalog and a sample of records")
        self.meltano("invoke", "tap-practicehub", "--discover", stdout_path=out / "catalog.json")
        self.meltano("invoke", "tap-practicehub", "--test=record", stdout_path=out / "sample.singer")
        self.meltano("invoke", "map-practicehub-pipedrive:propose")
        print(f"Proposed {out / 'mapping.yml'}: review it; in real use you edit it, then confirm.")
        self.step("Confirm the mapping (the demo confirms for you: --confirm-mapping)")
        if not self.args.confirm_mapping:
            print("Stopping: confirm the mapping with `meltano invoke map-practicehub-pipedrive:confirm`, then re-run.")
            return 2
        self.meltano("invoke", "map-practicehub-pipedrive:confirm")

        self.step("Preflight the target: owners, fields, planned calls and tokens (no writes)")
        self.meltano("invoke", "tap-practicehub", stdout_path=out / "extract-for-preflight.singer")
        self.meltano("invoke", "map-practicehub-pipedrive", "--input", str(out / "extract-for-preflight.singer"),
                     stdout_path=out / "preflight-input.singer",
                     # a dry pass: its de-dup memory and reports must not carry into the real runs
                     env={"MAP_PRACTICEHUB_PIPEDRIVE_STATE_DIR": str(out / "preflight" / "state"),
                          "MAP_PRACTICEHUB_PIPEDRIVE_REPORTS_DIR": str(out / "preflight")})
        self.meltano("invoke", "target-pipedrive:preflight")
        print(f"Preflight report in {out / 'pipedrive'}")

        self.step(f"Sample: a representative slice of {self.args.sample_size} records, then a field-level diff")
        self.meltano("run", "--no-state-update", "sample-migration")
        self.meltano("invoke", "target-pipedrive:verify")
        print("Sample verified: zero field mismatches.")

        self.step("Full migration, in dependency order, with the rollback manifest")
        started = time.monotonic()
        self.meltano("run", "full-migration")
        plan = json.loads((out / "pipedrive" / "summary.json").read_text()).get("budget_plan") or {}
        print(f"Full run done in {time.monotonic() - started:.1f} s; tokens planned {plan.get('tokens_estimated')}, "
              f"used {plan.get('tokens_used')} (used ÷ planned {plan.get('estimate_accuracy')}).")

        self.step("Cutover: records change in PracticeHub")
        changed = self.change_practicehub_records()
        print(f"Changed in PracticeHub: {changed['patients']} patients, {changed['appointments']} appointments.")

        self.step("Delta: only what changed (state bookmarks), upserted by source ID")
        self.meltano("run", "delta-migration")
        totals = json.loads((out / "pipedrive" / "summary.json").read_text())["totals"]
        print(f"Delta: {totals['received']} records in, {totals['updated']} updated, {totals['created']} created, "
              f"{totals['unchanged']} unchanged, {totals['skipped']} skipped.")
        self.step("Verify every landed field")
        self.meltano("invoke", "target-pipedrive:verify")
        verified = json.loads((out / "pipedrive" / "verify_summary.json").read_text())
        print(f"Verified {verified['entities_checked']:,} entities: {verified['mismatches']} field mismatches.")
        self.step("Reconcile against PracticeHub: every source record re-read and compared with Pipedrive")
        self.meltano("run", "reconcile")
        checked = json.loads((out / "pipedrive" / "reconcile.json").read_text())
        totals = {key: sum(row[key] for row in checked["streams"].values())
                  for key in ("records", "exact", "degraded", "merged", "not_landed_accepted")}
        print(f"{totals['records']:,} PracticeHub records: {totals['exact']:,} landed exactly, {totals['degraded']:,} "
              f"landed with degraded values (listed in the report), {totals['merged']:,} merged, "
              f"{totals['not_landed_accepted']:,} cannot exist in Pipedrive (deleted, orphaned); "
              f"{checked['unexplained']} unexplained.")

        self.step("Report")
        self.meltano("invoke", "target-pipedrive:report")
        report = out / "report" / "migration_report.html"
        if self.args.rollback:
            self.step("Rollback: everything this migration created or changed")
            self.meltano("invoke", "target-pipedrive:rollback")
            after = self.snapshot("after-rollback")
            differing = sorted(key for key in set(before) | set(after) if before.get(key) != after.get(key))
            if differing:
                print(f"Rollback did NOT restore the account: {', '.join(differing)} differ "
                      f"(snapshots in {out / 'pipedrive-snapshots'}).")
                return 1
            print("Rollback restored the Pipedrive account exactly (snapshot before = snapshot after).")
        print(f"\nMigration report: {report}")
        print("Next: open the report; roll back any time with `meltano invoke target-pipedrive:rollback`.")
        return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--practice", default="demo", help="PracticeHub sandbox dataset (demo, clinic-50k, FILE)")
    parser.add_argument("--speed", type=float, default=20.0, help="sandbox speed-up over the real rate limits")
    parser.add_argument("--keys", type=int, default=2, help="PracticeHub API keys used in parallel")
    parser.add_argument("--plan", default="growth", help="Pipedrive plan of the sandbox account")
    parser.add_argument("--seats", type=int, default=5, help="Pipedrive seats (the daily token budget scales)")
    parser.add_argument("--sample-size", type=int, default=300)
    parser.add_argument("--changes", type=int, default=5, help="records of each kind changed before the delta")
    parser.add_argument("--confirm-mapping", action="store_true", help="demo only: confirm the proposed mapping")
    parser.add_argument("--rollback", action="store_true", help="roll everything back at the end")
    return Demo(parser.parse_args(argv)).run()


if __name__ == "__main__":
    sys.exit(main())
