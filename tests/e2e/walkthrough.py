"""Running README.md's real-account steps as a user does: sandboxes as their CLIs, commands as typed.

The commands come from README.md (scripts/readme_steps.py); the connection reaches the sandboxes only
through the environment variables README.md's table documents (plus MELTANO_ENVIRONMENT, which the
README says selects the environment: `demo`, whose only differences are the sandboxes' faster rates).
"""

from __future__ import annotations

import json
import secrets
import shlex
import stat
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from urllib.request import Request, urlopen

from scripts import readme_steps
from tests.e2e.conftest import meltano_env

BIN = Path(sys.executable).parent
ENVIRONMENT = "demo"  # README: select an environment with MELTANO_ENVIRONMENT; `demo` runs at the sandboxes' pace
SPEED = 50.0
# A shell's usual umask: the files come out private because the commands make them so, not because of ours.
USER_UMASK = 0o022


@dataclass
class Ran:
    argv: tuple[str, ...]
    returncode: int
    output: str

    def __str__(self) -> str:
        return f"$ {shlex.join(self.argv)} (exit {self.returncode})\n{self.output[-4000:]}"


class SandboxProcess:
    """`practicehub-sandbox` or `pipedrive-sandbox` started as a user starts it, on a free port."""

    def __init__(self, argv: list[str], cwd: Path, log: Path) -> None:
        command = [str(BIN / argv[0]), *argv[1:]]
        if "--port" not in command:
            command += ["--port", "0"]
        self._log = log.open("w")
        self.process = subprocess.Popen(command, cwd=cwd, stdout=subprocess.PIPE, stderr=self._log, text=True,
                                        umask=USER_UMASK)
        ready = self.process.stdout.readline().strip()
        if " listening on " not in ready:
            self.stop()
            raise RuntimeError(f"{argv[0]} did not start: {ready!r}; log {log}: {log.read_text()[-2000:]}")
        self.url = ready.split(" listening on ", 1)[1]

    @property
    def root(self) -> str:
        return self.url.removesuffix("/api")

    def get(self, path: str, token: str | None = None):
        request = Request(f"{self.root}{path}", headers={"x-api-token": token} if token else {})
        with urlopen(request, timeout=30) as response:  # loopback sandbox only
            return json.loads(response.read())

    def post(self, path: str, body: dict, token: str):
        request = Request(f"{self.root}{path}", data=json.dumps(body).encode(), method="POST",
                          headers={"x-api-token": token, "Content-Type": "application/json"})
        with urlopen(request, timeout=30) as response:
            return json.loads(response.read())

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
        self._log.close()


class Walkthrough:
    """One project copy, its sandboxes, and the README's settings pointing at them."""

    def __init__(self, project: Path, pipedrive_fixture: str = "in-use") -> None:
        self.project = project
        self.logs = project / "walkthrough-logs"
        self.logs.mkdir(exist_ok=True)
        self.sandboxes: list[SandboxProcess] = []
        keys = [f"key-{secrets.token_hex(6)}" for _ in range(2)]
        self.pipedrive_token = secrets.token_hex(16)
        self.practicehub = self.start(["practicehub-sandbox", "--dataset", "tiny", "--api-keys", ",".join(keys),
                                       "--rate", str(SPEED), "--rate-scope", "key"])
        self.pipedrive = self.start(["pipedrive-sandbox", "--api-token", self.pipedrive_token, "--fixture",
                                     pipedrive_fixture, "--plan", "premium", "--seats", "3",
                                     "--time-scale", str(SPEED)])
        admin = self.pipedrive.get("/api/v1/users/me", self.pipedrive_token)["data"]
        self.settings = {  # README.md's table, nothing else
            "PRACTICEHUB_BASE_URL": self.practicehub.url,
            "PRACTICEHUB_API_KEYS": json.dumps(keys),
            "PRACTICEHUB_APP_DETAILS": "readme-test=test@example.com",
            "PRACTICEHUB_TIMEZONE": "UTC",
            "PIPEDRIVE_BASE_URL": self.pipedrive.url,
            "PIPEDRIVE_API_TOKEN": self.pipedrive_token,
            "PIPEDRIVE_FALLBACK_OWNER_EMAIL": admin["email"],
            "PIPEDRIVE_PLAN": "premium",
            "PIPEDRIVE_SEATS": "3",
            "PHI_POLICY": "include",
            "BAA_REFERENCE": "test: synthetic practice",
        }
        undocumented = set(self.settings) - readme_steps.documented_variables()
        assert not undocumented, f"settings the README does not document: {sorted(undocumented)}"
        self.ran: list[Ran] = []

    def start(self, argv: list[str]) -> SandboxProcess:
        sandbox = SandboxProcess(argv, self.project, self.logs / f"{argv[0]}-{len(self.sandboxes)}.log")
        self.sandboxes.append(sandbox)
        return sandbox

    @property
    def out(self) -> Path:
        return self.project / "output" / ENVIRONMENT

    def env(self, **extra: str) -> dict[str, str]:
        env = meltano_env(self.project, **{"MELTANO_ENVIRONMENT": ENVIRONMENT, **self.settings, **extra})
        for name in list(env):  # nothing of the machine's own Meltano or Pipedrive settings leaks in
            if name.startswith(("TAP_PRACTICEHUB_", "TARGET_PIPEDRIVE_", "MAP_PRACTICEHUB_")):
                del env[name]
        return env

    def run(self, argv: tuple[str, ...], timeout: float = 600, **extra: str) -> Ran:
        """A README command as typed (`meltano` is the one beside this Python); fails the test on a traceback."""
        command = [str(BIN / argv[0]), *argv[1:]]
        done = subprocess.run(command, cwd=self.project, env=self.env(**extra), capture_output=True, text=True,
                              timeout=timeout, umask=USER_UMASK)
        ran = Ran(argv, done.returncode, done.stdout + done.stderr)
        self.ran.append(ran)
        (self.logs / f"{len(self.ran):02d}-{argv[-1].replace(':', '-')}.log").write_text(str(ran))
        return ran

    def run_ok(self, argv: tuple[str, ...], **extra: str) -> Ran:
        ran = self.run(argv, **extra)
        assert ran.returncode == 0 and "Traceback" not in ran.output, str(ran)
        return ran

    def stop(self) -> None:
        for sandbox in reversed(self.sandboxes):
            sandbox.stop()


def loose_modes(root: Path) -> list[str]:
    """Folders not 0700 and files not 0600 under `root`."""
    found = []
    for path in sorted(root.rglob("*")):
        mode = stat.S_IMODE(path.lstat().st_mode)
        want = 0o700 if path.is_dir() else 0o600
        if mode != want:
            found.append(f"{oct(mode)} {path.relative_to(root)}")
    if stat.S_IMODE(root.stat().st_mode) != 0o700:
        found.append(f"{oct(stat.S_IMODE(root.stat().st_mode))} {root.name}/")
    return found

