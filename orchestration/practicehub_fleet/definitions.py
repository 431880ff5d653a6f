"""The code location: `dagster dev -m practicehub_fleet.definitions` (with DAGSTER_HOME=orchestration)."""

from __future__ import annotations

import os

import dagster as dg

from .assets import MeltanoProject, migration_assets, practice_delta, practice_migration
from .fleet import fleet_migration
from .schedules import cutover_delta_schedule

defs = dg.Definitions(
    assets=migration_assets,
    jobs=[practice_migration, practice_delta, fleet_migration],
    schedules=[cutover_delta_schedule],
    resources={"meltano": MeltanoProject(
        auto_confirm_mapping=os.environ.get("FLEET_AUTO_CONFIRM_MAPPING") == "1")},
)
