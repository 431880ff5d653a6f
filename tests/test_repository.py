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
