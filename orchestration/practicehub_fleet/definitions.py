"""The code location: `dagster dev -m practicehub_fleet.definitions` (with DAGSTER_HOME=orchestration)."""

from __future__ import annotations

import dagster as dg

from .assets import meltano_project, migration_assets, practice_delta, practice_migration
from .fleet import fleet_migration
from .schedules import cutover_delta_schedule

defs = dg.Definitions(
    assets=migration_assets,
    jobs=[practice_migration, practice_delta, fleet_migration],
    schedules=[cutover_delta_schedule],
    resources={"meltano": meltano_project()},
)
