"""The fleet's code location without running Meltano: partitions, limits, and one-line refusals."""

from __future__ import annotations

import os

import dagster as dg
import pytest
import yaml
from practicehub_fleet import project
from practicehub_fleet.assets import MeltanoProject, migration_assets, practices
from practicehub_fleet.definitions import defs
from practicehub_fleet.fleet import fleet_executor_config, fleet_migration

from scripts.readme_steps import README


def test_one_partition_per_practice_environment_that_meltano_also_knows():
    root = README.parent
    declared = project.practice_environments(root)
    assert practices.get_partition_keys() == declared == ["fleet-north", "fleet-south", "fleet-west"]
    meltano = yaml.safe_load((root / "meltano.yml").read_text())
    included = [path for pattern in meltano["include_paths"] for path in root.glob(pattern.removeprefix("./"))]
    assert project.PRACTICES_GLOB in [pattern.removeprefix("./") for pattern in meltano["include_paths"]]
    assert {env["name"] for path in included for env in yaml.safe_load(path.read_text())["environments"]} \
        == set(declared)


def test_the_fleet_job_runs_each_practice_as_one_chain_with_one_step_at_a_time():
    assert fleet_migration.executor_def.name == "multiprocess"
    config = fleet_executor_config(3)
    assert config["max_concurrent"] == 3  # every practice at once
    assert config["tag_concurrency_limits"] == [
        {"key": "practice", "value": {"applyLimitPerUniqueValue": True}, "limit": 1}]
    tags = {node.name: node.definition.tags.get("practice") for node in fleet_migration.graph.nodes}
    for environment in practices.get_partition_keys():
        assert sum(1 for tag in tags.values() if tag == environment) == 6
    assert tags["install_meltano_plugins"] is None
    queue = yaml.safe_load((README.parent / "orchestration" / "dagster.yaml").read_text())["concurrency"]["runs"]
    assert queue["tag_concurrency_limits"] == [
        {"key": "dagster/partition", "value": {"applyLimitPerUniqueValue": True}, "limit": 1}]


def test_the_code_location_loads_with_its_jobs_and_schedule():
    assert {job.name for job in defs.jobs} >= {"practice_migration", "practice_delta", "fleet_migration"}
    assert defs.resolve_schedule_def("cutover_delta_schedule").cron_schedule == "*/30 * * * *"


def _materialize_audit(tmp_path, monkeypatch, **env):
    for name in ("MELTANO_DATABASE_URI", "FLEET_SETTINGS_DIR"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    audit = next(asset for asset in migration_assets if asset.key.path == ["practicehub_audit"])
    with dg.instance_for_test() as instance:
        result = dg.materialize([audit], partition_key="fleet-north", instance=instance, raise_on_error=False,
                                resources={"meltano": MeltanoProject(project_dir=str(tmp_path),
                                                                     settings_dir=str(tmp_path / "settings"))})
        failures = [event for event in result.all_events if event.is_step_failure]
        return failures[0].step_failure_data.user_failure_data.description


def test_a_practice_without_a_postgres_system_database_is_refused_in_one_line(tmp_path, monkeypatch):
    said = _materialize_audit(tmp_path, monkeypatch, MELTANO_DATABASE_URI="sqlite:///meltano.db")
    assert said.startswith("the fleet keeps every practice's state in one shared PostgreSQL database")


def test_settings_readable_by_others_are_refused_and_missing_ones_named(tmp_path, monkeypatch):
    uri = "postgresql+psycopg://postgres@127.0.0.1:1/meltano"
    said = _materialize_audit(tmp_path, monkeypatch, MELTANO_DATABASE_URI=uri)
    assert said == f"no settings for this practice: create {tmp_path / 'settings' / 'fleet-north.env'} " \
        "(NAME=value lines, chmod 600)"
    project.write_settings_file(tmp_path / "settings" / "fleet-north.env", {"PIPEDRIVE_API_TOKEN": "secret-x"})
    assert oct(os.stat(tmp_path / "settings" / "fleet-north.env").st_mode & 0o777) == "0o600"
    os.chmod(tmp_path / "settings" / "fleet-north.env", 0o644)
    said = _materialize_audit(tmp_path, monkeypatch, MELTANO_DATABASE_URI=uri)
    assert "make it private (chmod 600)" in said and "secret-x" not in said


def test_a_settings_line_that_is_not_name_value_names_its_line(tmp_path):
    path = tmp_path / "fleet-north.env"
    project.write_settings_file(path, {"PIPEDRIVE_PLAN": "growth"})
    with path.open("a") as out:
        out.write("# comment\n\nnot a setting\n")
    with pytest.raises(project.FleetError, match="line 4: expected NAME=value"):
        project.read_settings_file(path)
