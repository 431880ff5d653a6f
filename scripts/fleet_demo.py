"""Three practices migrated at once under Dagster, their state in one shared PostgreSQL database.

Starts a throwaway PostgreSQL (scripts/local_postgres.py), and for each practice of
orchestration/practices/fleet-demo.meltano.yml a PracticeHub sandbox (its own synthetic practice: its own
seed) and a Pipedrive sandbox (its own company); writes each practice's settings file; then executes the
`fleet_migration` job (orchestration/) once, in this process, its steps in parallel worker processes:
audit → mapping (confirmed for you: a demo) → preflight → full + verify → reconcile + report → delta +
verify (nothing changed since, so it lands nothing), for every practice at once. Prints one line per practice from the run's materializations.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import sys
import time
from pathlib import Path

from local_postgres import PostgresUnavailable, local_postgres  # beside this script
from migrate_demo import Sandbox, http_json

ROOT = Path(__file__).resolve().parents[1]
SEEDS = (1, 2, 3)  # one synthetic practice each
# Dagster's console at INFO in every process: each step's figures, warnings and errors, not every engine event.
# Run config's loggers do not reach the step workers, which announce themselves (DEBUG) through the
# instance's default logger; its level is the instance's python_logs setting.
DEMO_INSTANCE_LOGS = "\n# The fleet demo (scripts/fleet_demo.py): INFO and above on the console\npython_logs:\n  python_log_level: INFO\n"


def start_practice(environment: str, dataset: str, seed: int, speed: float, logs: Path) -> tuple[dict, list]:
    """The practice's two sandboxes and the settings (README's variables) that point at them."""
    keys = [f"fleet-key-{secrets.token_hex(8)}" for _ in range(2)]
    practicehub = Sandbox("practicehub-sandbox",
                          ["--dataset", dataset, "--seed", str(seed), "--api-keys", ",".join(keys), "--rate",
                           str(speed), "--burst", "2", "--rate-scope", "key"], logs / f"{environment}-practicehub.log")
    token = secrets.token_hex(20)
    pipedrive = Sandbox("pipedrive-sandbox",
                        ["--api-token", token, "--seed", str(seed), "--plan", "growth", "--seats", "5",
                         "--time-scale", str(speed)], logs / f"{environment}-pipedrive.log")
    admin = http_json(f"{pipedrive.url}/api/v1/users/me", token=token)["data"]
    settings = {
        "PRACTICEHUB_BASE_URL": practicehub.url,
        "PRACTICEHUB_API_KEYS": json.dumps(keys, separators=(",", ":")),
        "PRACTICEHUB_APP_DETAILS": f"practicehub-fleet-demo={environment}@example.com",
        "PRACTICEHUB_TIMEZONE": "UTC",
        "PIPEDRIVE_BASE_URL": pipedrive.url,
        "PIPEDRIVE_API_TOKEN": token,
        "PIPEDRIVE_FALLBACK_OWNER_EMAIL": admin["email"],
        "PIPEDRIVE_PLAN": "growth",
        "PIPEDRIVE_SEATS": "5",
        "PHI_POLICY": "include",  # synthetic patients: nothing real to protect
        "BAA_REFERENCE": "demo: synthetic practice, no real patients",
    }
    return {"environment": environment, "seed": seed, "practicehub": practicehub, "pipedrive": pipedrive,
            "token": token, "settings": settings}, [practicehub, pipedrive]


def latest(instance, asset: str, environment: str, run_id: str) -> dict:
    """The figures the run recorded for one practice's partition of one asset (empty: not reached)."""
    import dagster as dg

    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=dg.AssetKey(asset), asset_partitions=[environment]), limit=1).records
    if not records or records[0].run_id != run_id:
        return {}
    return {name: value.value for name, value in records[0].asset_materialization.metadata.items()}


def practice_line(instance, environment: str, run_id: str) -> str:
    full = latest(instance, "full_migration", environment, run_id)
    delta = latest(instance, "cutover_delta", environment, run_id)
    report = latest(instance, "migration_report", environment, run_id)
    if not report:
        return f"{environment}: did not finish (see the run's events; logs in output/{environment}/logs/)"
    if not delta:
        return f"{environment}: the delta did not finish (see the run's events; logs in output/{environment}/logs/)"
    verify = ("verify ok" if full.get("field_mismatches") == 0
              else f"verify: {full.get('field_mismatches')} field mismatches")
    return (f"{environment}: {report['records_landed']} records landed ({full.get('created')} created by the full "
            f"run, {delta.get('records_landed')} by the delta), {report['skipped']} skipped, "
            f"{report['tokens_used']} tokens, {report['days_of_budget_left']} days of budget left; {verify} "
            f"({full.get('entities_verified')} entities), reconcile: {report['unexplained_differences']} "
            f"unexplained; report {report['html_report']}")


def run_fleet(args: argparse.Namespace) -> int:
    os.umask(0o077)  # settings files, logs, the Dagster instance: this user's only
    from practicehub_fleet.project import practice_environments, write_settings_file

    environments = practice_environments(ROOT)
    if len(environments) > len(SEEDS):
        raise SystemExit(f"the demo has {len(SEEDS)} synthetic practices for {len(environments)} environments")
    fleet_dir = ROOT / "output" / "fleet"
    shutil.rmtree(fleet_dir, ignore_errors=True)
    for environment in environments:
        shutil.rmtree(ROOT / "output" / environment, ignore_errors=True)
    (fleet_dir / "logs").mkdir(parents=True)
    dagster_home = fleet_dir / "dagster-home"
    dagster_home.mkdir()
    instance_config = (ROOT / "orchestration" / "dagster.yaml").read_text(encoding="utf-8") + DEMO_INSTANCE_LOGS
    (dagster_home / "dagster.yaml").write_text(instance_config, encoding="utf-8")  # private (umask), as the rest
    sandboxes: list[Sandbox] = []
    try:
        with local_postgres() as database_uri:
            practices = []
            for environment, seed in zip(environments, SEEDS, strict=False):
                practice, started = start_practice(environment, args.dataset, seed, args.speed, fleet_dir / "logs")
                sandboxes += started
                write_settings_file(fleet_dir / "settings" / f"{environment}.env", practice["settings"])
                practices.append(practice)
                print(f"{environment}: PracticeHub sandbox {practice['practicehub'].url} ({args.dataset} practice, "
                      f"seed {seed}), Pipedrive sandbox {practice['pipedrive'].url}")
            os.environ.update({
                "MELTANO_DATABASE_URI": database_uri,  # one system database: every practice's state
                "MELTANO_PROJECT_ROOT": str(ROOT),
                "FLEET_SETTINGS_DIR": str(fleet_dir / "settings"),
                "FLEET_AUTO_CONFIRM_MAPPING": "1",  # a demo: in real use a person reviews mapping.yml first
                "DAGSTER_HOME": str(dagster_home),
            })
            print(f"Meltano system database: PostgreSQL on {database_uri.split('@')[1]}; Dagster instance: "
                  f"{dagster_home}")
            code = execute(environments, args.json_out)
            if args.evidence:  # tests: what the sandboxes and the database hold, before they go away
                write_evidence(args.evidence, practices, database_uri)
            return code
    except PostgresUnavailable as reason:
        print(f"Cannot start PostgreSQL: {reason}", file=sys.stderr)
        return 2
    finally:
        for sandbox in reversed(sandboxes):
            sandbox.stop()


def execute(environments: list[str], json_out: Path | None) -> int:
    import dagster as dg
    from practicehub_fleet.fleet import fleet_migration_job

    started = time.monotonic()
    print(f"Running the fleet_migration job: {len(environments)} practices at once ...", flush=True)
    with dg.DagsterInstance.get() as instance:
        result = dg.execute_job(dg.reconstructable(fleet_migration_job), instance=instance)  # INFO: its python_logs
        seconds = time.monotonic() - started
        print(f"\nDagster run {result.run_id}: {'success' if result.success else 'FAILED'} in {seconds:.0f} s")
        lines = {environment: practice_line(instance, environment, result.run_id) for environment in environments}
        for line in lines.values():
            print(line)
        if json_out:
            json_out.write_text(json.dumps({
                "run_id": result.run_id, "success": result.success, "seconds": round(seconds, 1),
                "steps": step_times(instance, result.run_id),
                "practices": {env: {asset: latest(instance, asset, env, result.run_id)
                                    for asset in ("full_migration", "cutover_delta", "migration_report")}
                              for env in environments}}, indent=1, default=str))
    home = ROOT / "output" / "fleet" / "dagster-home"
    print(f"\nThe Dagster UI on this run: DAGSTER_HOME={home} {Path(sys.executable).parent / 'dagster'} dev "
          f"-m practicehub_fleet.definitions  (then http://127.0.0.1:3000)")
    return 0 if result.success else 1


def write_evidence(path: Path, practices: list[dict], database_uri: str) -> None:
    """Each Pipedrive account's live records, each source's records and the system database's state rows."""
    import sqlalchemy

    engine = sqlalchemy.create_engine(database_uri)
    with engine.connect() as connection:
        rows = connection.execute(sqlalchemy.text("select state_id, completed_state from state")).all()
    engine.dispose()
    evidence = {
        "state": {row.state_id: row.completed_state for row in rows},
        "practices": {practice["environment"]: {
            "pipedrive": http_json(f"{practice['pipedrive'].url}/_sandbox/snapshot")["data"],
            "patients": http_json(practice["practicehub"].url.removesuffix("/api") + "/_sandbox/records/patients"),
        } for practice in practices},
    }
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)  # synthetic patients, still
    with os.fdopen(descriptor, "w", encoding="utf-8") as out:
        json.dump(evidence, out, default=str)


def step_times(instance, run_id: str) -> dict[str, list[float]]:
    """When each step started and ended (the run's event log): the tests check what overlapped."""
    import dagster as dg

    times: dict[str, list[float]] = {}
    for entry in instance.all_logs(run_id):
        event = entry.dagster_event
        if event is None or entry.step_key is None:
            continue
        if event.event_type == dg.DagsterEventType.STEP_START:
            times[entry.step_key] = [entry.timestamp, entry.timestamp]
        elif event.event_type in (dg.DagsterEventType.STEP_SUCCESS, dg.DagsterEventType.STEP_FAILURE):
            times.setdefault(entry.step_key, [entry.timestamp, entry.timestamp])[1] = entry.timestamp
    return times


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="demo", help="synthetic practice size: tiny (~150), demo (~2,000)")
    parser.add_argument("--speed", type=float, default=20.0, help="sandbox speed-up over the real rate limits")
    parser.add_argument("--json-out", type=Path, help="also write the run's figures to this JSON file")
    parser.add_argument("--evidence", type=Path, help=argparse.SUPPRESS)  # tests (tests/fleet/)
    return run_fleet(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
