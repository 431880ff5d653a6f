"""The whole migration against the local sandboxes, as a user runs it with Meltano.

The steps and their commands are README.md's "The migration, step by step (real accounts)", read from
it (scripts/readme_steps.py) and run exactly as written: audit → propose → confirm → preflight → [dress
rehearsal on a twin] → sample → full → (changes in PracticeHub) → delta → reconcile → report
[→ rollback]. This script only starts the sandboxes, sets the environment those commands read, and says
what each step did.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path
from urllib.request import Request, urlopen

import readme_steps  # beside this script

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


class Sandbox:
    """A sandbox CLI started on a free loopback port; stopped when the demo ends."""

    def __init__(self, name: str, args: list[str], log: Path) -> None:
        self.name = name
        self._log = log.open("w")
        self.process = subprocess.Popen(
            [str(BIN / name), "--port", "0", *args], cwd=ROOT, stdout=subprocess.PIPE, stderr=self._log, text=True
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
        self.prediction: dict | None = None
        self.twin_env: dict[str, str] = {}

    # plumbing

    def step(self, label: str, title: str) -> None:
        """A heading with the README's numbering; logs are numbered in the order steps ran."""
        self.step_number += 1
        print(f"\n== {label}. {title}", flush=True)

    def run_command(self, argv: tuple[str, ...], env: dict | None = None) -> None:
        """One command as the README spells it; `meltano` is the one beside this Python."""
        command = [str(BIN / argv[0]), *argv[1:]]
        log = self.workdir / "logs" / f"{self.step_number:02d}-{argv[0]}.log"
        with log.open("a") as out:
            out.write(f"$ {shlex.join(argv)}\n")
            out.flush()
            result = subprocess.run(command, cwd=ROOT, env=self.env | (env or {}), stdout=out, stderr=out, check=False)
        if result.returncode != 0:
            tail = "".join(log.read_text().splitlines(keepends=True)[-25:])
            raise SystemExit(f"`{shlex.join(argv)}` failed (exit {result.returncode}); log {log}:\n{tail}")

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

    def snapshot(self, name: str) -> dict:
        """The Pipedrive sandbox account's live data (sandbox-only endpoint), kept for the rollback proof."""
        data = http_json(f"{self.pipedrive.url}/_sandbox/snapshot")["data"]
        path = self.workdir / "pipedrive-snapshots" / f"{name}.json"
        path.parent.mkdir(exist_ok=True)
        path.write_text(json.dumps(data, indent=1, sort_keys=True))
        return data

    def read(self, relative: str) -> dict:
        return json.loads((self.workdir / relative).read_text())

    # the steps

    def run(self) -> int:
        os.umask(0o077)  # the demo's own files (logs, snapshots) and the sandboxes' databases: this user's only
        if self.workdir.exists():
            shutil.rmtree(self.workdir)
        (self.workdir / "logs").mkdir(parents=True)
        self.step("0", "Install the Meltano plugins")
        self.run_command(("meltano", "install"))
        try:
            self.start_sandboxes()
            return self.migrate()
        finally:
            for sandbox in reversed(self.sandboxes):
                sandbox.stop()

    def migrate(self) -> int:
        """README.md's real-account steps, each command exactly as written there."""
        self.before = self.snapshot("before-migration")
        for step in readme_steps.migration_steps():
            self.step(str(step.number), step.title)
            hooks = STEP_HOOKS.get(step.key, {})
            before = hooks["before"](self) if "before" in hooks else None
            if before == SKIP:
                continue
            if before is not None:
                return before
            for command in step.commands:
                self.started = time.monotonic()
                self.run_command(command)
            if "after" in hooks:
                code = hooks["after"](self)
                if code:
                    return code
            if step.key == "preflight" and self.args.rehearsal:
                self.rehearse()
        print(f"\nMigration report: {self.workdir / 'report' / 'migration_report.html'}")
        print("Next: open the report; roll back any time with `meltano invoke target-pipedrive:rollback`.")
        return 0

    def rehearse(self) -> None:
        """README.md's dress rehearsal: a snapshot of the account, a twin started from it, the load into the twin."""
        for step in readme_steps.rehearsal_steps():
            self.step(f"Dress rehearsal {step.number}", step.title)
            for command in step.commands:
                if command[0] == "pipedrive-sandbox":
                    self.start_twin(command)
                else:
                    self.run_command(command, env=self.twin_env)
            if step.key == "snapshot":
                account = self.read("pipedrive-account.json")
                meta = account["snapshot"]
                print(f"Snapshot of the account: {len(account['users'])} users, {len(account['pipelines'])} pipelines, "
                      + ", ".join(f"{len(account[s])} {s}" for s in meta["records_included"])
                      + f"; read-only: {meta['api_calls']} GET calls, {meta['api_tokens']} tokens. "
                      f"File: {self.workdir / 'pipedrive-account.json'}")
        self.prediction = self.read("rehearsal/pipedrive/rehearsal.json")
        totals, budget = self.prediction["totals"], self.prediction["budget"]
        print(f"Rehearsal on the twin: the real run will create {totals['create']:,}, adopt {totals['adopt']:,}, "
              f"update {totals['update']:,} and skip {totals['skip']:,} records; {budget['tokens']:,} tokens = "
              f"{budget['days_needed']} day(s) of budget. Report: "
              f"{self.workdir / 'rehearsal' / 'pipedrive' / 'rehearsal.md'}")

    def start_twin(self, command: tuple[str, ...]) -> None:
        """The README's twin command line, on a free port and with a token of our own."""
        args = list(command[1:])
        token = secrets.token_hex(20)
        for option, value in (("--port", None), ("--api-token", token)):
            if option in args:
                index = args.index(option)
                del args[index:index + 2]
            if value is not None:
                args += [option, value]
        args = [arg.replace("output/dev/", "output/demo/") for arg in args]  # the demo's environment
        twin = Sandbox("pipedrive-sandbox", [*args, "--plan", self.args.plan, "--time-scale", str(self.args.speed)],
                       self.workdir / "logs" / "pipedrive-twin.log")
        self.sandboxes.append(twin)
        self.twin_env = {"PIPEDRIVE_TWIN_URL": twin.url, "PIPEDRIVE_TWIN_TOKEN": token}
        print(f"Twin of the Pipedrive account: {twin.url} (from {args[args.index('--fixture') + 1]})")


def _confirm(demo: Demo) -> int | None:
    if not demo.args.confirm_mapping:
        print("Stopping: confirm the mapping with `meltano invoke map-practicehub-pipedrive:confirm`, then re-run.")
        return 2
    print("(The demo confirms the proposed mapping for you: --confirm-mapping.)")
    return None


def _after_audit(demo: Demo) -> None:
    audit = demo.read("audit/practicehub-audit.json")
    print(f"{audit['practicehub']['records_total']:,} records in {len(audit['practicehub']['records'])} resources;"
          f" extraction needs at least {audit['extraction_estimate']['minimum_seconds']:,.0f} s at this rate."
          f" Report: {demo.workdir / 'audit' / 'practicehub-audit.md'}")


def _after_propose(demo: Demo) -> None:
    print(f"Proposed {demo.workdir / 'mapping.yml'}: review it; in real use you edit it, then confirm.")


def _after_preflight(demo: Demo) -> None:
    plan = demo.read("pipedrive/preflight.json")
    print(f"Preflight: {sum(plan['records'].values()):,} records, {len(plan['to_create'])} fields, pipelines and "
          f"stages to create, {plan['planned_tokens']:,} tokens = {plan['days_needed']} day(s) of budget. "
          f"Report: {demo.workdir / 'pipedrive' / 'preflight.json'}")


def _after_sample(demo: Demo) -> None:
    print("Sample verified: zero field mismatches.")


def _after_full(demo: Demo) -> None:
    plan = demo.read("pipedrive/summary.json").get("budget_plan") or {}
    print(f"Full run done in {time.monotonic() - demo.started:.1f} s; tokens planned {plan.get('tokens_estimated')}, "
          f"used {plan.get('tokens_used')} (used ÷ planned {plan.get('estimate_accuracy')}).")


def _before_delta(demo: Demo) -> None:
    changed = demo.change_practicehub_records()
    print(f"Cutover: changed in PracticeHub: {changed['patients']} patients, {changed['appointments']} appointments.")


def _after_delta(demo: Demo) -> None:
    totals = demo.read("pipedrive/summary.json")["totals"]
    verified = demo.read("pipedrive/verify_summary.json")
    print(f"Delta: {totals['received']} records in, {totals['updated']} updated, {totals['created']} created, "
          f"{totals['unchanged']} unchanged, {totals['skipped']} skipped.")
    print(f"Verified {verified['entities_checked']:,} entities: {verified['mismatches']} field mismatches.")


def _after_reconcile(demo: Demo) -> None:
    checked = demo.read("pipedrive/reconcile.json")
    totals = {key: sum(row[key] for row in checked["streams"].values())
              for key in ("records", "exact", "degraded", "merged", "not_landed_accepted")}
    print(f"{totals['records']:,} PracticeHub records: {totals['exact']:,} landed exactly, {totals['degraded']:,} "
          f"landed with degraded values (listed in the report), {totals['merged']:,} merged, "
          f"{totals['not_landed_accepted']:,} cannot exist in Pipedrive (deleted, orphaned); "
          f"{checked['unexplained']} unexplained.")


def _after_report(demo: Demo) -> None:
    if demo.prediction is None:
        return
    migration = demo.read("report/migration_report.json")["migration"]
    predicted = demo.prediction["totals"]
    print(f"The rehearsal predicted {predicted['create']:,} records created and {predicted['adopt']:,} adopted; "
          f"the migration created {migration['totals']['created']:,} and adopted {migration['totals']['adopted']:,}.")
    for row in migration["streams"]:
        expected = demo.prediction["streams"].get(row["stream"], {})
        if (row["created"], row["adopted"]) != (expected.get("create", 0), expected.get("adopt", 0)):
            print(f"  {row['stream']}: {expected.get('create', 0)} created and {expected.get('adopt', 0)} adopted "
                  f"predicted, {row['created']} and {row['adopted']} done: the rehearsal is one full run, the "
                  "migration ran the sample first")


def _before_rollback(demo: Demo) -> str | None:
    if not demo.args.rollback:
        print("Skipped (run the demo with --rollback to roll everything back and compare the account).")
        return SKIP
    return None


def _after_rollback(demo: Demo) -> int:
    after = demo.snapshot("after-rollback")
    differing = sorted(key for key in set(demo.before) | set(after) if demo.before.get(key) != after.get(key))
    if differing:
        print(f"Rollback did NOT restore the account: {', '.join(differing)} differ "
              f"(snapshots in {demo.workdir / 'pipedrive-snapshots'}).")
        return 1
    print("Rollback restored the Pipedrive account exactly (snapshot before = snapshot after).")
    return 0


SKIP = "skip"  # a `before` hook's answer: leave this step out; an int stops the demo with that exit code
# What the demo says around a README step, by the step title's first word. A step it has nothing to say
# about still runs: the list of steps is the README's.
STEP_HOOKS = {
    "audit": {"after": _after_audit},
    "propose": {"after": _after_propose},
    "confirm": {"before": _confirm},
    "preflight": {"after": _after_preflight},
    "sample": {"after": _after_sample},
    "full": {"after": _after_full},
    "delta": {"before": _before_delta, "after": _after_delta},
    "reconcile": {"after": _after_reconcile},
    "report": {"after": _after_report},
    "rollback": {"before": _before_rollback, "after": _after_rollback},
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--practice", default="demo", help="PracticeHub sandbox dataset (demo, clinic-50k, FILE)")
    parser.add_argument("--speed", type=float, default=20.0, help="sandbox speed-up over the real rate limits")
    parser.add_argument("--keys", type=int, default=2, help="PracticeHub API keys used in parallel")
    parser.add_argument("--plan", default="growth", help="Pipedrive plan of the sandbox account")
    parser.add_argument("--seats", type=int, default=5, help="Pipedrive seats (the daily token budget scales)")
    parser.add_argument("--changes", type=int, default=5, help="records of each kind changed before the delta")
    parser.add_argument("--confirm-mapping", action="store_true", help="demo only: confirm the proposed mapping")
    parser.add_argument("--rollback", action="store_true", help="roll everything back at the end")
    parser.add_argument("--no-rehearsal", dest="rehearsal", action="store_false",
                        help="skip the dress rehearsal on a twin of the Pipedrive account")
    return Demo(parser.parse_args(argv)).run()


if __name__ == "__main__":
    sys.exit(main())
