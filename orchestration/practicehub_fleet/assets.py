"""One practice's migration as partitioned assets: audit → mapping → preflight → full → report, then deltas.

One partition per practice (its Meltano environment). A run materializes one practice; the instance's run
queue (orchestration/dagster.yaml) admits one run per partition at a time, and runs of different
practices in parallel.
"""


import os
from collections.abc import Callable
from pathlib import Path

import dagster as dg

from . import steps
from .project import FleetError, Practice, practice_environments, project_root

practices = dg.StaticPartitionsDefinition(practice_environments())


class MeltanoProject(dg.ConfigurableResource):
    """Where the Meltano project and the practices' settings files are; secrets stay in those files."""

    project_dir: str = ""  # empty: MELTANO_PROJECT_ROOT, else this checkout
    settings_dir: str = ""  # empty: FLEET_SETTINGS_DIR, else <project>/output/fleet/settings (git-ignored)
    auto_confirm_mapping: bool = False  # demos only: a real mapping is reviewed by a person first

    def practice(self, environment: str) -> Practice:
        root = Path(self.project_dir).resolve() if self.project_dir else project_root()
        settings = self.settings_dir or os.environ.get("FLEET_SETTINGS_DIR") or str(root / "output" / "fleet" / "settings")
        return Practice(environment, root, Path(settings))


def meltano_project() -> MeltanoProject:
    """The resource as the code location configures it (FLEET_AUTO_CONFIRM_MAPPING=1: demos only)."""
    return MeltanoProject(auto_confirm_mapping=os.environ.get("FLEET_AUTO_CONFIRM_MAPPING") == "1")


def metadata(result: steps.StepResult) -> dict[str, dg.MetadataValue]:
    """The step's figures and the paths of its reports, as Dagster shows them."""
    values: dict[str, dg.MetadataValue] = {
        name: dg.MetadataValue.text("n/a") if value is None else dg.MetadataValue.bool(value)
        if isinstance(value, bool) else dg.MetadataValue.text(value) if isinstance(value, str)
        else dg.MetadataValue.int(value) if isinstance(value, int) else dg.MetadataValue.float(float(value))
        for name, value in result.figures.items()
    }
    values.update({name: dg.MetadataValue.path(str(path)) for name, path in result.paths.items()})
    return values


def run_step(environment: str, meltano: MeltanoProject, step: Callable[..., steps.StepResult],
             *args) -> steps.StepResult:
    """A step for one practice; a configuration problem is a one-line failure, not a traceback."""
    try:
        return step(meltano.practice(environment), *args)
    except FleetError as error:
        raise dg.Failure(description=str(error)) from None


def conclude(result: steps.StepResult) -> dg.MaterializeResult:
    if result.failure:  # the figures still reach the UI, with the failure
        raise dg.Failure(description=result.failure, metadata=metadata(result))
    return dg.MaterializeResult(metadata=metadata(result))


STEP_ASSETS = {  # asset name → (the step, what it is, the asset it follows); the fleet runs them in this order
    "practicehub_audit": (steps.audit, "Object inventory and extraction window (`tap-practicehub:audit`)", None),
    "confirmed_mapping": (steps.mapping, "output/<env>/mapping.yml proposed, reviewed and confirmed",
                          "practicehub_audit"),
    "preflight_plan": (steps.preflight, "`meltano run preflight`: the plan, tokens and days, no writes",
                       "confirmed_mapping"),
    "full_migration": (steps.full, "`meltano run full-migration` (every record, exactly once), then verify",
                       "preflight_plan"),
    "migration_report": (steps.reconcile_and_report, "`meltano run reconcile` and the HTML report",
                         "full_migration"),
    # through the cutover window, on the schedule; the fleet runs one straight after the full load and report
    "cutover_delta": (steps.delta, "`meltano run delta-migration` (what changed since), then verify",
                      "full_migration"),
}


def _step_asset(name: str, step: Callable[..., steps.StepResult], description: str,
                upstream: str | None) -> dg.AssetsDefinition:
    @dg.asset(name=name, partitions_def=practices, description=description, group_name="migration",
              deps=[upstream] if upstream else [], kinds={"meltano"})
    def _asset(context: dg.AssetExecutionContext, meltano: MeltanoProject) -> dg.MaterializeResult:
        extra = (meltano.auto_confirm_mapping,) if step is steps.mapping else ()
        return conclude(run_step(context.partition_key, meltano, step, *extra))

    return _asset


def _build() -> list[dg.AssetsDefinition]:
    return [_step_asset(name, step, description, upstream)
            for name, (step, description, upstream) in STEP_ASSETS.items()]


migration_assets = _build()

# Everything up to the full load, verified, reconciled and reported; then the cutover's deltas (the schedule).
# The report is made once, after the full load; materialize migration_report after the last delta for the
# report of the whole cutover.
practice_migration = dg.define_asset_job(
    "practice_migration",
    selection=dg.AssetSelection.assets(*[name for name in STEP_ASSETS if name != "cutover_delta"]))
practice_delta = dg.define_asset_job("practice_delta", selection=dg.AssetSelection.assets("cutover_delta"))
