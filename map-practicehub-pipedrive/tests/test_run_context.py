"""The entity modules use the run only through entities/context.py's RunContext, and the transformer has it all."""

from __future__ import annotations

import ast
from pathlib import Path

import map_practicehub_pipedrive.entities as entities
from map_practicehub_pipedrive.entities.context import RunContext
from map_practicehub_pipedrive.transformer import from_config
from testkit.mapper_run import base_config

MEMBERS = set(RunContext.__annotations__) | {name for name in vars(RunContext) if not name.startswith("_")}


def _used_members() -> dict[str, set[str]]:
    """module → the attributes it reads from its `run` parameter."""
    used = {}
    for path in Path(entities.__file__).parent.glob("*.py"):
        tree = ast.parse(path.read_text("utf-8"))
        used[path.stem] = {node.attr for node in ast.walk(tree) if isinstance(node, ast.Attribute)
                           and isinstance(node.value, ast.Name) and node.value.id == "run"}
    return used


def test_entity_modules_use_only_the_run_context():
    used = _used_members()
    assert used["persons"] and used["common"]  # the scan sees them
    assert {module: names - MEMBERS for module, names in used.items() if names - MEMBERS} == {}
    assert MEMBERS == set().union(*used.values())  # and the context stays narrow: nothing unused in it


def test_the_transformer_provides_every_member_of_the_run_context(tmp_path):
    transformer = from_config(base_config(tmp_path))
    assert sorted(name for name in MEMBERS if not hasattr(transformer, name)) == []
