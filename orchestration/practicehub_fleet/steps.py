"""One practice's migration steps, each the README's Meltano command(s), and what each step did.

Each step returns plain figures (what Dagster shows as the materialization's metadata), read from the
files the plugins write under output/<environment>/; no figure is patient data. The assets and the
fleet job both run these, so a practice migrates the same way whichever started it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from .project import FleetError, Practice

NOTHING_CHANGED = "nothing changed"
BUDGET_SPENT = 3  # target-pipedrive's exit code when the day's token budget ran out (resume after the reset)


@dataclass
class StepResult:
    figures: dict[str, float | int | str | bool | None]
    paths: dict[str, Path] = field(default_factory=dict)  # reports worth opening
    failure: str | None = None  # set: the step ran but its check failed (the figures still tell what it did)


def _read(practice: Practice, relative: str) -> dict:
    path = practice.out / relative
    try:
        return json.loads(path.read_text("utf-8"))
    except (OSError, ValueError) as error:
        raise FleetError(f"{practice.environment}: {path} is missing or unreadable ({type(error).__name__})") from None


def audit(practice: Practice) -> StepResult:
    practice.meltano_ok("invoke", "tap-practicehub:audit", step="audit")
    report = _read(practice, "audit/practicehub-audit.json")
    return StepResult(
        {"records_in_practicehub": report["practicehub"]["records_total"],
         "resources": len(report["practicehub"]["records"]),
         "extraction_minimum_seconds": round(report["extraction_estimate"]["minimum_seconds"], 1)},
        {"audit_report": practice.out / "audit" / "practicehub-audit.md"},
    )


def mapping(practice: Practice, auto_confirm: bool) -> StepResult:
    """Propose the mapping once; a reviewed file is never proposed over. Unconfirmed: stop and say how."""
    path = practice.out / "mapping.yml"
    proposed = not path.is_file()
    if proposed:
        practice.meltano_ok("run", "propose-mapping", step="propose-mapping")
    confirmed = bool((yaml.safe_load(path.read_text("utf-8")) or {}).get("confirmed"))
    if not confirmed and auto_confirm:
        practice.meltano_ok("invoke", "map-practicehub-pipedrive:confirm", step="confirm-mapping")
        confirmed = True
    figures = {"proposed_now": proposed, "confirmed": confirmed}
    if not confirmed:
        return StepResult(figures, {"mapping_file": path}, failure=(
            f"review {path}, then confirm it: MELTANO_ENVIRONMENT={practice.environment} "
            "meltano invoke map-practicehub-pipedrive:confirm, and materialize again"))
    return StepResult(figures, {"mapping_file": path})


def preflight(practice: Practice) -> StepResult:
    ran = practice.meltano("run", "preflight", step="preflight")
    plan = _read(practice, "pipedrive/preflight.json")
    result = StepResult(
        {"records_planned": sum(plan["records"].values()), "to_create": len(plan["to_create"]),
         "planned_tokens": plan["planned_tokens"], "days_needed": plan["days_needed"], "ok": bool(plan["ok"])},
        {"preflight_plan": practice.out / "pipedrive" / "preflight.json"},
    )
    if ran.returncode != 0:
        result.failure = f"the preflight found the plan blocked (exit {ran.returncode}); see {ran.log}"
    return result


def load_figures(summary: dict) -> dict:
    """Records landed and skipped, tokens used and the budget left, from a run's summary.json."""
    totals, api = summary.get("totals") or {}, summary.get("api") or {}
    plan = summary.get("budget_plan") or {}
    remaining, limit = api.get("daily_tokens_remaining"), api.get("daily_token_limit")
    return {
        "run_status": summary.get("status"),
        "records_received": totals.get("received"),
        "records_landed": (totals.get("created") or 0) + (totals.get("updated") or 0),
        "created": totals.get("created"),
        "updated": totals.get("updated"),
        "unchanged": totals.get("unchanged"),
        "skipped": totals.get("skipped"),
        "tokens_used": plan.get("tokens_used", api.get("tokens")),
        "daily_tokens_remaining": remaining,
        # today's budget still unspent, in days of the plan's daily budget (1.0 = a whole untouched day)
        "days_of_budget_left": round(remaining / limit, 2) if remaining is not None and limit else None,
        "days_needed": plan.get("days_needed"),
    }


def _load(practice: Practice, job: str) -> StepResult:
    summary_path = practice.out / "pipedrive" / "summary.json"
    ran = practice.meltano("run", job, step=job)
    result = StepResult(load_figures(_read(practice, "pipedrive/summary.json")), {"run_summary": summary_path})
    if ran.returncode == 0 and result.figures["run_status"] == "completed" and not result.figures["records_received"]:
        result.figures["run_status"] = NOTHING_CHANGED  # every run writes its summary: this one received nothing
    if ran.returncode == BUDGET_SPENT or result.figures["run_status"] == "budget_exhausted":
        result.failure = (f"the day's Pipedrive token budget is spent: materialize {job} again after the reset "
                          "(the ledger skips what already landed)")
    elif ran.returncode != 0:
        result.failure = f"`{ran.command}` failed (exit {ran.returncode}); log {ran.log}"
    return result


def full(practice: Practice) -> StepResult:
    """The full load, then the field-level read-back of everything landed."""
    return _verified(practice, _load(practice, "full-migration"))


def delta(practice: Practice) -> StepResult:
    """The delta (what changed since the last bookmark), then the read-back again."""
    return _verified(practice, _load(practice, "delta-migration"))


def _verified(practice: Practice, result: StepResult) -> StepResult:
    if result.failure or result.figures["run_status"] == NOTHING_CHANGED:  # nothing new to read back
        return result
    ran = practice.meltano("invoke", "target-pipedrive:verify", step="verify")
    verified = _read(practice, "pipedrive/verify_summary.json")
    result.figures.update(entities_verified=verified["entities_checked"], field_mismatches=verified["mismatches"])
    result.paths["verify_summary"] = practice.out / "pipedrive" / "verify_summary.json"
    if ran.returncode != 0:
        result.failure = f"verify found {verified['mismatches']} field mismatches; log {ran.log}"
    return result


def reconcile_and_report(practice: Practice) -> StepResult:
    """Every PracticeHub record checked against Pipedrive, then the HTML report (written either way)."""
    checked = practice.meltano("run", "reconcile", step="reconcile")
    practice.meltano_ok("invoke", "target-pipedrive:report", step="report")
    reconcile = _read(practice, "pipedrive/reconcile.json")
    report = _read(practice, "report/migration_report.json")
    migration = report["migration"]["totals"]
    budget = report.get("budget") or {}
    limit, remaining = budget.get("daily_limit"), budget.get("remaining")
    result = StepResult(
        {"records_landed": migration.get("in_pipedrive"),  # created or adopted, and still there
         "created": migration.get("created"),
         "adopted": migration.get("adopted"),
         "skipped": report["totals"]["skipped_by_mapper"] + report["totals"]["skipped_by_target"],
         "tokens_used": report["throughput"].get("tokens"),
         "days_of_budget_left": round(remaining / limit, 2) if remaining is not None and limit else None,
         "unexplained_differences": reconcile["unexplained"],
         "reconciled": bool(report["reconciled"])},
        {"html_report": practice.out / "report" / "migration_report.html",
         "reconcile": practice.out / "pipedrive" / "reconcile.json"},
    )
    if checked.returncode != 0:
        result.failure = (f"reconcile found {reconcile['unexplained']} unexplained differences "
                          f"(output/{practice.environment}/pipedrive/reconcile_differences.csv)")
    return result
