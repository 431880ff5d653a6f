"""The report is its own package: inputs → summary → rendering, no import cycle, no mapper code, its templates
shipped inside it."""

from __future__ import annotations

import ast
import tomllib
from importlib.resources import files
from pathlib import Path

import migration_report

PACKAGE = Path(migration_report.__file__).parent
TEMPLATES = ("page.html.j2", "macros.html.j2", "charts.html.j2", "style.css", "check.js")


def imports() -> dict[str, set[str]]:
    """Module → the modules of this package and the outside packages it imports."""
    found: dict[str, set[str]] = {}
    for path in PACKAGE.glob("*.py"):
        module = path.stem
        names: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module:
                if node.module == "migration_report":
                    names.update(alias.name for alias in node.names)
                else:
                    names.add(node.module.removeprefix("migration_report."))
            elif isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names)
        found[module] = names
    return found


def test_no_import_cycle_and_data_flows_one_way():
    graph = imports()
    inside = {module: {name for name in names if name in graph} for module, names in graph.items()}

    def reaches(start: str, goal: str, seen: frozenset = frozenset()) -> bool:
        return any(step == goal or (step not in seen and reaches(step, goal, seen | {step}))
                   for step in inside[start])

    assert [module for module in inside if reaches(module, module)] == []
    # the stages never reach back: reading knows no summary, the summary no page
    assert not reaches("inputs", "summary") and not reaches("summary", "render")
    assert not {"render", "charts"} & (inside["summary"] | inside["migration"] | inside["inputs"])
    assert not {"inputs", "summary", "migration"} & (inside["render"] | inside["charts"])


def test_reads_the_mapper_by_file_and_the_target_through_its_public_api_only():
    outside = {name for names in imports().values() for name in names}
    assert not [name for name in outside if name.startswith(("practicehub_pipedrive", "map_practicehub_pipedrive"))]
    target = {name for name in outside if name.startswith("target_pipedrive")}
    assert target == {"target_pipedrive.ledger", "target_pipedrive.privacy"}
    source = "".join(path.read_text("utf-8") for path in PACKAGE.glob("*.py"))
    assert "sqlite3.connect" not in source and "SELECT" not in source  # the ledger's SQL stays in ledger.py


def test_templates_are_package_data():
    """Every template file is matched by the distribution's package-data globs, so a wheel carries it."""
    project = tomllib.loads((PACKAGE.parent / "pyproject.toml").read_text("utf-8"))
    globs = project["tool"]["setuptools"]["package-data"]["migration_report"]
    shipped = {path for pattern in globs for path in PACKAGE.glob(pattern)}
    on_disk = {path for path in (PACKAGE / "templates").rglob("*") if path.is_file() and "__pycache__" not in path.parts}
    assert on_disk - shipped == set()
    templates = files("migration_report") / "templates"
    for name in TEMPLATES:
        assert (templates / name).is_file(), name
    sections = sorted(path.name for path in (templates / "sections").iterdir())
    page = (templates / "page.html.j2").read_text("utf-8")
    included = {name for name in sections if f'"sections/{name}"' in page}
    assert set(sections) - included == {"degraded.html.j2"}  # the source check section includes that one
