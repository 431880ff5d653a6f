"""The repository as a new user meets it: the README's test command is what CI runs."""

import re
from pathlib import Path

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
    for entry in (".venv/", ".meltano/", "output/", "__pycache__/"):
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
