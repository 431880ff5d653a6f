"""Every practice at once in one Dagster run: the same steps as the assets, one chain of ops per practice.

The multiprocess executor runs the chains side by side; its tag limit (one step per `practice` tag value)
means one practice never has two steps running, whatever the graph. Each op records the materialization
of its practice's partition of the matching asset, so the asset catalog shows the fleet run's work.
"""


import dagster as dg

from . import steps
from .assets import STEP_ASSETS, MeltanoProject, conclude, meltano_project, metadata, run_step
from .project import FleetError, install_plugins, practice_environments

ONE_STEP_PER_PRACTICE = {"key": "practice", "value": {"applyLimitPerUniqueValue": True}, "limit": 1}


def fleet_executor_config(practices: int) -> dict:
    """Every practice in parallel, one step per practice at a time; steps fork from a warm server."""
    return {"max_concurrent": max(practices, 1), "tag_concurrency_limits": [ONE_STEP_PER_PRACTICE],
            "start_method": {"forkserver": {"preload_modules": ["practicehub_fleet.definitions"]}}}


@dg.op(description="`meltano install`: the plugins every practice shares, once before any practice runs")
def install_meltano_plugins() -> None:
    try:
        install_plugins()
    except FleetError as error:
        raise dg.Failure(description=str(error)) from None


def _op_name(environment: str, asset_name: str) -> str:
    return f"{environment.replace('-', '_')}__{asset_name}"


def _step_op(environment: str, asset_name: str) -> dg.OpDefinition:
    step, description, _ = STEP_ASSETS[asset_name]

    @dg.op(name=_op_name(environment, asset_name), description=f"{environment}: {description}",
           tags={"practice": environment}, ins={"after": dg.In(dg.Nothing)}, out=dg.Out(dg.Nothing))
    def _op(context: dg.OpExecutionContext, meltano: MeltanoProject):
        extra = (meltano.auto_confirm_mapping,) if step is steps.mapping else ()
        result = run_step(environment, meltano, step, *extra)
        context.log.info(f"{environment} {asset_name}: " + ", ".join(
            f"{name} {value}" for name, value in result.figures.items()))  # counts and statuses only
        context.log_event(dg.AssetMaterialization(asset_key=asset_name, partition=environment,
                                                  metadata=metadata(result)))
        conclude(result)  # raises on a failed check: this practice's later steps are skipped, others go on

    return _op


def build_fleet_job(environments: list[str]) -> dg.JobDefinition:
    @dg.graph(name="fleet_migration", description="Every practice's migration at once, each exactly once")
    def fleet():
        installed = install_meltano_plugins()
        for environment in environments:
            previous = installed
            for asset_name in STEP_ASSETS:
                previous = _step_op(environment, asset_name)(after=previous)

    return fleet.to_job(executor_def=dg.multiprocess_executor.configured(fleet_executor_config(len(environments))),
                        resource_defs={"meltano": meltano_project()}, tags={"fleet": "all-practices"})


fleet_migration = build_fleet_job(practice_environments())


def fleet_migration_job() -> dg.JobDefinition:
    """The job, for `dagster.reconstructable` (a graph's job must come from a module-level function)."""
    return fleet_migration
