"""The Meltano project the fleet runs: where it is, its practices, and `meltano` run for one practice.

A practice is one Meltano environment declared in `orchestration/practices/*.meltano.yml` (meltano.yml
includes those files). Its outputs go to `output/<environment>/` and its state ids start with the
environment's name, so practices sharing one system database (MELTANO_DATABASE_URI) never see each
other's bookmarks. Its connection settings (the README's variables: API keys, tokens, URLs, time zone,
PHI policy) come from `<settings dir>/<environment>.env`, one `NAME=value` a line, mode 0600.
"""

from __future__ import annotations

import os
import shlex
import stat
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import yaml

PRACTICES_GLOB = "orchestration/practices/*.meltano.yml"
# meltano is installed beside the Python that runs the code location (one .venv, or one image)
MELTANO = str(Path(sys.executable).parent / "meltano")
# The machine's own plugin settings would override a practice's: none of them reach a practice's run.
FOREIGN_SETTINGS = ("TAP_PRACTICEHUB_", "TARGET_PIPEDRIVE_", "MAP_PRACTICEHUB_PIPEDRIVE_", "PRACTICEHUB_",
                    "PIPEDRIVE_", "PHI_POLICY", "BAA_REFERENCE", "MELTANO_ENVIRONMENT")


# `.meltano/<plugin type>/<plugin>/venv`: what `meltano install` makes, shared by every practice
PLUGIN_DIRS = ("extractors", "mappers", "loaders", "utilities", "transformers", "orchestrators", "files")


class FleetError(Exception):
    """A practice cannot run as configured; the message says what to change (one line, no secrets)."""


def project_root() -> Path:
    """MELTANO_PROJECT_ROOT (Meltano's own variable), else the checkout this package lives in."""
    configured = os.environ.get("MELTANO_PROJECT_ROOT")
    return Path(configured).resolve() if configured else Path(__file__).resolve().parents[2]


def practice_environments(root: Path | None = None) -> list[str]:
    """Every practice's environment name, in the files' order (the Dagster partitions)."""
    names: list[str] = []
    for path in sorted((root or project_root()).glob(PRACTICES_GLOB)):
        for environment in (yaml.safe_load(path.read_text("utf-8")) or {}).get("environments") or []:
            if environment["name"] in names:
                raise FleetError(f"practice {environment['name']!r} is declared twice ({path.name})")
            names.append(environment["name"])
    return names


def read_settings_file(path: Path) -> dict[str, str]:
    """`NAME=value` lines (blank lines and # comments allowed); refuses a file others can read."""
    if not path.is_file():
        raise FleetError(f"no settings for this practice: create {path} (NAME=value lines, chmod 600)")
    if stat.S_IMODE(path.stat().st_mode) & 0o077:
        raise FleetError(f"{path} holds API keys and tokens: make it private (chmod 600)")
    settings: dict[str, str] = {}
    for number, line in enumerate(path.read_text("utf-8").splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, sep, value = line.partition("=")
        if not sep or not name.strip().isidentifier():
            raise FleetError(f"{path} line {number}: expected NAME=value")
        settings[name.strip()] = value.strip()
    return settings


def write_settings_file(path: Path, settings: dict[str, str]) -> None:
    """The practice's settings file, private from its first byte."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as out:
        out.writelines(f"{name}={value}\n" for name, value in settings.items())


def _meltano_env(root: Path) -> dict[str, str]:
    env = {name: value for name, value in os.environ.items() if not name.startswith(FOREIGN_SETTINGS)}
    return env | {
        "MELTANO_SEND_ANONYMOUS_USAGE_STATS": "false",
        "MELTANO_CLI_DISABLE_VERSION_CHECK": "1",
        # Meltano's and uv's caches inside the project, as scripts/demo.sh keeps them
        "XDG_CACHE_HOME": str(root / ".meltano" / "xdg-cache"),
        "XDG_STATE_HOME": str(root / ".meltano" / "xdg-state"),
        "UV_CACHE_DIR": str(root / ".meltano" / "uv-cache"),
    }


@dataclass(frozen=True)
class Ran:
    command: str
    returncode: int
    seconds: float
    log: Path


@dataclass(frozen=True)
class Practice:
    """One practice's `meltano` commands: its environment, its settings, its own output folder."""

    environment: str
    root: Path
    settings_dir: Path

    @property
    def out(self) -> Path:
        return self.root / "output" / self.environment

    def env(self) -> dict[str, str]:
        uri = os.environ.get("MELTANO_DATABASE_URI", "")
        if not uri.startswith("postgresql"):
            raise FleetError("the fleet keeps every practice's state in one shared PostgreSQL database: "
                             "set MELTANO_DATABASE_URI=postgresql+psycopg://USER@HOST:PORT/DB")
        return _meltano_env(self.root) | read_settings_file(self.settings_dir / f"{self.environment}.env") | {
            "MELTANO_ENVIRONMENT": self.environment, "MELTANO_SYS_DIR_ROOT": str(self.system_dir())}

    def system_dir(self) -> Path:
        """This practice's own `.meltano`: Meltano writes each plugin's config, catalog and run files into
        `.meltano/run/<plugin>/`, one folder per project, so two environments running the same plugin at once
        overwrite each other's catalog. The practice's folder links to the shared plugin installs instead.
        """
        shared = self.root / ".meltano"
        own = shared / "environments" / self.environment
        own.mkdir(parents=True, exist_ok=True, mode=0o700)
        for kind in PLUGIN_DIRS:
            link = own / kind
            if (shared / kind).is_dir() and not link.exists():
                link.symlink_to(shared / kind, target_is_directory=True)
        return own

    def meltano(self, *args: str, step: str, timeout: float = 6 * 3600) -> Ran:
        """`meltano ARGS` in this practice's environment; its output goes to output/<env>/logs/<step>.log."""
        logs = self.out / "logs"
        logs.mkdir(parents=True, exist_ok=True, mode=0o700)
        log = logs / f"{step}.log"
        command = shlex.join(["meltano", *args])
        started = time.monotonic()
        descriptor = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)  # logs can name patients' ids
        with os.fdopen(descriptor, "a", encoding="utf-8") as out:
            out.write(f"$ {command}\n")
            out.flush()
            try:
                done = subprocess.run([MELTANO, *args], cwd=self.root, env=self.env(), stdout=out, stderr=out,
                                      stdin=subprocess.DEVNULL, timeout=timeout, check=False)
            except subprocess.TimeoutExpired:
                raise FleetError(f"`{command}` for {self.environment} ran past {timeout:.0f} s and was stopped; "
                                 f"log {log}") from None
        return Ran(command, done.returncode, round(time.monotonic() - started, 1), log)

    def meltano_ok(self, *args: str, step: str) -> Ran:
        ran = self.meltano(*args, step=step)
        if ran.returncode != 0:
            raise FleetError(f"`{ran.command}` failed for {self.environment} (exit {ran.returncode}); log {ran.log}")
        return ran


def install_plugins(root: Path | None = None) -> None:
    """`meltano install` once for every practice (they share the project's plugins), before any runs."""
    root = root or project_root()
    done = subprocess.run([MELTANO, "install"], cwd=root, env=_meltano_env(root), capture_output=True, text=True,
                          stdin=subprocess.DEVNULL, check=False)
    if done.returncode != 0:
        raise FleetError(f"`meltano install` failed (exit {done.returncode}): {done.stderr.strip()[-300:]}")
