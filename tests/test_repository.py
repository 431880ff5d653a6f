"""The repository as a new user meets it: the README's test command is what CI runs."""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def readme_test_command() -> str:
    text = (ROOT / "README.md").read_text()
    match = re.search(r"^#+ [^\n]*[Tt]est[^\n]*\n.*?^```\w*\n([^\n]+)\n", text, flags=re.M | re.S)
    assert match, "README.md has no fenced command under a heading that names tests"
    return match.group(1).strip()


def test_ci_runs_exactly_the_readme_test_command():
    assert readme_test_command() in (ROOT / ".ci" / "run").read_text()


def test_generated_output_is_ignored_by_git():
    ignored = (ROOT / ".gitignore").read_text().split()
    dagster_instance = ("/orchestration/history/", "/orchestration/storage/")  # README's DAGSTER_HOME=orchestration
    for entry in (".venv/", ".meltano/", "output/", "__pycache__/", *dagster_instance):
        assert entry in ignored, entry


def test_mapping_configs_only_use_variables_meltano_expands_for_mappings():
    """Meltano expands a mapping's config with the terminal's, `.env`'s and top-level variables only, never an
    environment's `env:`; a path built from one would reach the tap and target but become `/...` for the mapper."""
    import yaml

    project = yaml.safe_load((ROOT / "meltano.yml").read_text())
    environment_variables = {name for env in project["environments"] for name in (env.get("env") or {})}
    mapper = next(p for p in project["plugins"]["mappers"] if p["name"] == "map-practicehub-pipedrive")
    for mapping in mapper["mappings"]:
        for key, value in (mapping.get("config") or {}).items():
            used = set(re.findall(r"\$\{?([A-Z_][A-Z0-9_]*)", str(value)))
            assert not used & environment_variables, (mapping["name"], key, value)
            if key.endswith(("_file", "_dir")):
                assert str(value).startswith("output/$MELTANO_ENVIRONMENT/"), (mapping["name"], key, value)


# ---- no import cycles in product code ------------------------------------------------------------------

def product_packages() -> list[Path]:
    """Every importable package of a plugin or sandbox: a folder with `__init__.py` beside a pyproject.toml
    (a plugin's own `tests/` is not one)."""
    return sorted(init.parent for project in ROOT.glob("*/pyproject.toml")
                  for init in project.parent.glob("*/__init__.py") if init.parent.name != "tests")


def import_graph(package: Path) -> dict[str, set[str]]:
    """Module → the modules of the same package it imports (anywhere in it: top level, functions, TYPE_CHECKING).

    Modules are named relative to the package (`entities.common`); a package's `__init__` is its folder's name.
    Importing `pkg.a.b` counts as importing `a.b` only, not `a`'s `__init__` that Python runs first."""
    import ast

    def name_of(path: Path) -> str:
        parts = list(path.relative_to(package).with_suffix("").parts)
        return ".".join(parts[:-1] if parts[-1] == "__init__" else parts) or "__init__"

    modules = {name_of(path): path for path in package.rglob("*.py")}

    def _is_module(dotted: str) -> bool:
        return (dotted.removeprefix(package.name).lstrip(".") or "__init__") in modules

    def resolve(dotted: str) -> str | None:
        inside = dotted.removeprefix(package.name).lstrip(".") or "__init__"
        while inside and inside not in modules:
            inside = inside.rpartition(".")[0]
        return inside or None

    graph: dict[str, set[str]] = {}
    for module, path in modules.items():
        is_package = path.name == "__init__.py"
        here = [package.name, *([] if module == "__init__" else module.split("."))]
        targets: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = here[: len(here) - node.level + (1 if is_package else 0)]
                    base = ".".join([*anchor, *([base] if base else [])])
                # `from pkg.sub import a, b`: each name that is a module is that module, the others are pkg.sub's.
                names = [f"{base}.{alias.name}" if _is_module(f"{base}.{alias.name}") else base
                         for alias in node.names]
            else:
                continue
            for dotted in names:
                if dotted == package.name or dotted.startswith(package.name + "."):
                    found = resolve(dotted)
                    if found is not None and found != module:
                        targets.add(found)
        graph[module] = targets
    return graph


def import_cycles(graph: dict[str, set[str]]) -> list[set[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[set[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        for target in graph[module]:
            if target not in index:
                visit(target)
                low[module] = min(low[module], low[target])
            elif target in stack:
                low[module] = min(low[module], index[target])
        if low[module] == index[module]:
            component = set()
            while True:
                member = stack.pop()
                component.add(member)
                if member == module:
                    break
            if len(component) > 1:
                cycles.append(component)

    for module in sorted(graph):
        if module not in index:
            visit(module)
    return cycles


@pytest.mark.parametrize("package", product_packages(), ids=lambda path: path.name)
def test_product_code_has_no_import_cycles(package):
    cycles = [sorted(cycle) for cycle in import_cycles(import_graph(package))]
    assert not cycles, f"{package.name}: modules that import each other: {cycles}"


def test_the_import_graph_sees_every_kind_of_import(tmp_path):
    """`from . import`, `from .x import`, absolute, function-level and TYPE_CHECKING imports all count."""
    package = tmp_path / "pkg"
    (package / "sub").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "sub" / "__init__.py").write_text("")
    (package / "a.py").write_text("from pkg.sub.b import thing\n")
    (package / "sub" / "b.py").write_text("def f():\n    from .. import a\n")
    (package / "c.py").write_text("import typing\nif typing.TYPE_CHECKING:\n    from pkg import d\n")
    (package / "d.py").write_text("from .c import x\n")
    (package / "e.py").write_text("import pkg.a\nfrom pkg.sub import b, thing\n")
    graph = import_graph(package)
    assert graph["a"] == {"sub.b"} and graph["sub.b"] == {"a"} and graph["e"] == {"a", "sub.b", "sub"}
    assert sorted(map(sorted, import_cycles(graph))) == [["a", "sub.b"], ["c", "d"]]


# ---- each plugin's own tests can run without the others ----------------------------------------------------

TEST_SUPPORT = {"testkit", "tests", "practicehub_sandbox", "pipedrive_sandbox"}  # development-only packages


def repository_projects() -> dict[str, tuple[Path, set[str], set[str]]]:
    """Distribution name → (folder, its packages, the repository distributions it depends on)."""
    import tomllib

    projects = {}
    for pyproject in ROOT.glob("*/pyproject.toml"):
        meta = tomllib.loads(pyproject.read_text())["project"]
        packages = {init.parent.name for init in pyproject.parent.glob("*/__init__.py")} - {"tests"}
        requirements = {re.split(r"[\s\[<>=!~;]", dependency, maxsplit=1)[0] for dependency in
                        meta.get("dependencies", [])}
        projects[meta["name"]] = (pyproject.parent, packages, requirements)
    return projects


def imported_top_levels(folder: Path) -> set[str]:
    import ast

    names = set()
    for path in folder.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
                names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("name", ["tap-practicehub", "map-practicehub-pipedrive", "target-pipedrive",
                                  "migration-report", "practicehub-pipedrive-sandboxes"])
def test_a_plugins_own_tests_import_only_it_its_dependencies_and_the_test_support(name):
    projects = repository_projects()
    folder, own, requirements = projects[name]
    assert (folder / "tests" / "__init__.py").is_file() and (folder / "tests" / "conftest.py").is_file()
    allowed = own | TEST_SUPPORT | {package for dist in requirements & projects.keys() for package in projects[dist][1]}
    first_party = {package for _, packages, _ in projects.values() for package in packages}
    reaching = (imported_top_levels(folder / "tests") & first_party) - allowed
    assert not reaching, f"{name}'s tests import other plugins ({sorted(reaching)}): move that test to tests/integration/"
