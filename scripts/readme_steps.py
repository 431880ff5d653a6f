"""The commands of README.md's real-account steps, as a user types them.

README.md's section "The migration, step by step (real accounts)" holds numbered lists: the steps of a
migration, and under "Dress rehearsal on a twin of your Pipedrive account" those of a rehearsal. In
them, every inline code span that starts with `meltano ` (or `pipedrive-sandbox `) is a command, in the
order given. scripts/migrate_demo.py and the end-to-end tests run exactly these, so the README and what
is run cannot drift apart.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"
SECTION = "## The migration, step by step (real accounts)"
REHEARSAL = "### Dress rehearsal on a twin of your Pipedrive account"
COMMAND_STARTS = ("meltano ", "pipedrive-sandbox ")
_ITEM = re.compile(r"^(\d+)\. \*\*([^*]+)\*\*(.*)$")
_CODE = re.compile(r"`([^`]+)`")
_TABLE_VARIABLE = re.compile(r"`([A-Z][A-Z0-9_]+)`")


@dataclass(frozen=True)
class Step:
    number: int
    title: str
    commands: tuple[tuple[str, ...], ...]  # each an argv: ("meltano", "run", "preflight")

    @property
    def key(self) -> str:
        """The title's first word, lower case: what the demo hooks its messages to ("audit", "sample", ...)."""
        return self.title.split()[0].strip(",").lower()


def _section(text: str, heading: str, stop: str) -> str:
    start = text.index(heading) + len(heading)
    ends = [i for i in (text.find(stop, start), text.find("\n## ", start)) if i != -1]
    return text[start:min(ends)] if ends else text[start:]


def _steps(block: str) -> list[Step]:
    items: list[list] = []
    open_item = False
    for line in block.splitlines():
        match = _ITEM.match(line)
        if match:
            items.append([int(match.group(1)), match.group(2).strip(), match.group(3)])
            open_item = True
        elif open_item and line.startswith("   ") and line.strip():
            items[-1][2] += " " + line.strip()  # the item's continuation line
        else:
            open_item = False
    return [Step(number, title, tuple(tuple(shlex.split(span)) for span in _CODE.findall(body)
                                      if span.startswith(COMMAND_STARTS)))
            for number, title, body in items]


def migration_steps(readme: Path = README) -> list[Step]:
    """The numbered steps of a real migration."""
    text = readme.read_text("utf-8")
    return _steps(_section(text, SECTION, REHEARSAL))


def rehearsal_steps(readme: Path = README) -> list[Step]:
    """The numbered steps of a dress rehearsal on a twin."""
    text = readme.read_text("utf-8")
    return _steps(_section(text, REHEARSAL, "\n## "))


def documented_variables(readme: Path = README) -> set[str]:
    """The environment variables named in the first column of the section's settings table."""
    table = _section(readme.read_text("utf-8"), SECTION, "\n1. ")
    return {name for line in table.splitlines() if line.startswith("| `")
            for name in _TABLE_VARIABLE.findall(line.split("|")[1])}


if __name__ == "__main__":
    for heading, steps in (("migration", migration_steps()), ("rehearsal", rehearsal_steps())):
        print(f"{heading}:")
        for step in steps:
            print(f"  {step.number}. {step.title}: " + "; ".join(shlex.join(c) for c in step.commands))
