"""The delta every 30 minutes through each practice's cutover window (meltano.yml's `cutover-delta` cron).

A practice is in its cutover window from its full load's last materialization for FLEET_CUTOVER_HOURS
(default 48: the README's 24–48 hour window); outside it, the schedule asks nothing of it.
"""


import os
from datetime import datetime

import dagster as dg

from .assets import practice_delta, practices

CUTOVER_CRON = "*/30 * * * *"


def cutover_hours() -> float:
    return float(os.environ.get("FLEET_CUTOVER_HOURS", "48"))


def practices_in_cutover(instance: dg.DagsterInstance, now: datetime) -> list[str]:
    """The practices whose full load landed less than the cutover window ago."""
    window = cutover_hours() * 3600
    inside = []
    for environment in practices.get_partition_keys():
        records = instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=dg.AssetKey("full_migration"), asset_partitions=[environment]),
            limit=1).records
        if records and 0 <= now.timestamp() - records[0].timestamp < window:
            inside.append(environment)
    return inside


@dg.schedule(cron_schedule=CUTOVER_CRON, job=practice_delta, default_status=dg.DefaultScheduleStatus.STOPPED,
             description="The delta for every practice in its cutover window, one run per practice")
def cutover_delta_schedule(context: dg.ScheduleEvaluationContext):
    now = context.scheduled_execution_time
    due = practices_in_cutover(context.instance, now)
    if not due:
        return dg.SkipReason("no practice is in its cutover window (no full load in the last "
                             f"{cutover_hours():g} hours)")
    stamp = now.strftime("%Y%m%dT%H%M")
    return [dg.RunRequest(run_key=f"{environment}-{stamp}", partition_key=environment) for environment in due]
