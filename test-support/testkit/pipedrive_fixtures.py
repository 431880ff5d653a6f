"""Fixtures that start the Pipedrive sandbox on 127.0.0.1.

`pipedrive_sandbox_factory(...)` starts one (in this process by default, or as the real
`pipedrive-sandbox` command with `subprocess=True`); `pipedrive_sandbox` is a ready account with the
`in-use` fixture. Every sandbox is stopped at teardown.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess as subprocess_module
import sys
from pathlib import Path
from typing import Any

import pytest
import requests

from testkit import SPEC_DIR

READY_PREFIX = "pipedrive-sandbox listening on "
DEFAULT_USER_COUNT = 3


def default_user_emails(count: int = DEFAULT_USER_COUNT) -> list[str]:
    from pipedrive_sandbox.seed import default_user_email

    return [default_user_email(i) for i in range(1, count + 1)]


class PipedriveSandbox:
    """A running sandbox account: its URLs, tokens and sandbox-only controls."""

    def __init__(self, db: str, api_token: str, user_tokens: dict[str, str], options: dict[str, Any],
                 subprocess: bool):
        self.db = db
        self.api_token = api_token
        self.user_tokens = dict(user_tokens)
        self.options = options
        self.subprocess = subprocess
        self.port = 0
        self._server = None
        self._process: subprocess_module.Popen | None = None
        self.output = ""  # a stopped subprocess's stdout and stderr, for tests of what it logs
        self.http = requests.Session()
        self.start()

    # --- lifecycle ------------------------------------------------------------------------------
    def start(self) -> None:
        if self.subprocess:
            self._process = subprocess_module.Popen(
                self.command(), stdout=subprocess_module.PIPE, stderr=subprocess_module.PIPE, text=True)
            line = self._process.stdout.readline()
            if not line.startswith(READY_PREFIX):
                self._process.kill()
                raise RuntimeError(f"pipedrive-sandbox did not start: {line!r} {self._process.stderr.read()[-2000:]}")
            self.port = int(line.strip().rsplit(":", 1)[1])
            self.output += line
        else:
            from pipedrive_sandbox.server import SandboxOptions, SandboxServer

            self._server = SandboxServer(SandboxOptions(
                api_token=self.api_token, port=self.port, db=self.db, user_tokens=self.user_tokens,
                spec_dir=str(SPEC_DIR) if SPEC_DIR.is_dir() else None, **self.options)).start()
            self.port = self._server.port

    def command(self) -> list[str]:
        script = Path(sys.executable).with_name("pipedrive-sandbox")
        cmd = [str(script), "--port", str(self.port), "--api-token", self.api_token, "--db", self.db]
        for key, value in self.options.items():
            if value is None:
                continue
            flag = "--" + key.replace("_", "-")
            if key == "users" and not isinstance(value, int | str):
                raise ValueError("subprocess sandboxes take users as a count or a JSON file path")
            cmd += [flag, str(value)]
        for email, token in self.user_tokens.items():
            cmd += ["--user-token", f"{email}={token}"]
        if SPEC_DIR.is_dir():
            cmd += ["--spec-dir", str(SPEC_DIR)]
        return cmd

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None
        if self._process is not None:
            self._process.send_signal(signal.SIGTERM)
            try:
                self._process.wait(timeout=10)
            except subprocess_module.TimeoutExpired:
                self._process.kill()
                self._process.wait(timeout=5)
            for stream in (self._process.stdout, self._process.stderr):
                self.output += stream.read()
                stream.close()
            self._process = None

    def restart(self) -> None:
        """Stop and start again on the same port and database (state survives)."""
        self.stop()
        self.start()

    @property
    def running(self) -> bool:
        return self._server is not None or self._process is not None

    # --- addresses ------------------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def api_v1(self) -> str:
        return f"{self.base_url}/api/v1"

    @property
    def api_v2(self) -> str:
        return f"{self.base_url}/api/v2"

    @property
    def account(self):
        """The in-process Account (None for a subprocess sandbox)."""
        return self._server.account if self._server else None

    # --- sandbox-only controls ------------------------------------------------------------------
    def _sandbox(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self.http.request(method, f"{self.base_url}/_sandbox/{path}", timeout=30, **kwargs)
        response.raise_for_status()
        return response.json()["data"]

    def snapshot(self) -> dict[str, Any]:
        return self._sandbox("GET", "snapshot")

    def requests_log(self, since: int = 0) -> list[dict[str, Any]]:
        return self._sandbox("GET", "requests", params={"since": since})

    def counters(self) -> dict[str, Any]:
        return self._sandbox("GET", "counters")

    def reset_counters(self) -> dict[str, Any]:
        return self._sandbox("POST", "counters/reset")

    def configure(self, **settings: Any) -> dict[str, Any]:
        """Change settings at runtime: plan, time_scale, daily_budget, fault_*, stall_seconds,
        rate_limits, script_faults=["5xx", "429", "drop", "stall"], clear_faults=True."""
        return self._sandbox("PATCH", "config", json=settings)

    def change_record(self, entity: str, record_id: int, **changes: Any) -> dict[str, Any]:
        """Edit a stored record behind the client's back (for verify tests)."""
        return self._sandbox("POST", f"records/{entity}/{record_id}", json=changes)

    def public_account(self) -> dict[str, dict[Any, dict]]:
        """The account as any API client reads it: every v2 list (persons, organizations, deals, activities,
        pipelines, stages) and field list (options included), and the v1 notes and files lists, by id."""
        account: dict[str, dict[Any, dict]] = {}
        for name in PUBLIC_V2_LISTS:
            key = "field_code" if name.endswith("Fields") else "id"
            account[name] = {item[key]: item for item in self.walk(f"/api/v2/{name}", "cursor")}
        for name in PUBLIC_V1_LISTS:
            account[name] = {item["id"]: item for item in self.walk(f"/api/v1/{name}", "start")}
        return account

    def walk(self, path: str, paging: str) -> list[dict]:
        """Every item of a public list endpoint, 100 a page: v2 `cursor` or v1 `start` paging."""
        items, params = [], {"limit": 100}
        while True:
            response = self.get(path, params=params)
            assert response.status_code == 200, f"{path}: {response.status_code} {response.text[:300]}"
            body = response.json()
            items += body.get("data") or []
            extra = body.get("additional_data") or {}
            if paging == "cursor":
                if not extra.get("next_cursor"):
                    return items
                params["cursor"] = extra["next_cursor"]
            else:
                pagination = extra.get("pagination") or {}
                if not pagination.get("more_items_in_collection"):
                    return items
                params["start"] = pagination["next_start"]

    # --- convenience for tests ------------------------------------------------------------------
    def get(self, path: str, token: str | None = None, **kwargs: Any) -> requests.Response:
        return self.request("GET", path, token, **kwargs)

    def request(self, method: str, path: str, token: str | None = None, **kwargs: Any) -> requests.Response:
        """`path` like "/api/v2/persons"; authenticated with the admin token unless another is given."""
        headers = {"x-api-token": token or self.api_token, **kwargs.pop("headers", {})}
        return self.http.request(method, f"{self.base_url}{path}", headers=headers, timeout=30, **kwargs)


PUBLIC_V2_LISTS = ("organizations", "persons", "deals", "activities", "pipelines", "stages", "personFields",
                   "organizationFields", "dealFields", "activityFields")
PUBLIC_V1_LISTS = ("notes", "files")


def account_changes(before: dict, after: dict, volatile: set[str] = frozenset()) -> list[tuple]:
    """(list, id, what, before, after) for every record or key that differs between two `public_account` reads;
    keys in `volatile` (timestamps Pipedrive moves on every write) are not compared."""
    changes = []
    for name in sorted(set(before) | set(after)):
        old, new = before.get(name, {}), after.get(name, {})
        for ident in sorted(set(old) | set(new), key=str):
            if ident not in new or ident not in old:
                changes.append((name, ident, "record", "present" if ident in old else None,
                                "present" if ident in new else None))
                continue
            for key in sorted((set(old[ident]) | set(new[ident])) - volatile):
                if old[ident].get(key) != new[ident].get(key):
                    changes.append((name, ident, key, old[ident].get(key), new[ident].get(key)))
    return changes


@pytest.fixture
def pipedrive_sandbox_factory(tmp_path_factory):
    """Start sandboxes: factory(plan="lite", seats=3, fixture="empty", time_scale=50.0, seed=0, db=None,
    user_tokens=None, daily_budget=None, users=None, fault_5xx=0.0, fault_429=0.0, fault_drop=0.0,
    fault_stall=0.0, stall_seconds=5.0, subprocess=False, api_token=None) -> PipedriveSandbox.

    user_tokens None gives every generated regular user a token; users is a count, a JSON file path, or
    (in-process only) a list of {name, email, role}.
    """
    started: list[PipedriveSandbox] = []

    def factory(plan: str = "lite", seats: int = 3, fixture: str = "empty", time_scale: float = 50.0,
                seed: int = 0, db: str | os.PathLike | None = None, user_tokens: dict[str, str] | None = None,
                daily_budget: int | None = None, users: Any = None, fault_5xx: float = 0.0,
                fault_429: float = 0.0, fault_drop: float = 0.0, fault_stall: float = 0.0,
                stall_seconds: float = 5.0, subprocess: bool = False, api_token: str | None = None
                ) -> PipedriveSandbox:
        if db is None:
            db = tmp_path_factory.mktemp("pipedrive") / "sandbox.sqlite3"
        if user_tokens is None:
            count = users if isinstance(users, int) else DEFAULT_USER_COUNT if users is None else 0
            user_tokens = {email: "pd-user-" + secrets.token_hex(8) for email in default_user_emails(count)[1:]}
        options = {"plan": plan, "seats": seats, "fixture": fixture, "time_scale": time_scale, "seed": seed,
                   "daily_budget": daily_budget, "users": users if users is not None else DEFAULT_USER_COUNT,
                   "fault_5xx": fault_5xx, "fault_429": fault_429, "fault_drop": fault_drop,
                   "fault_stall": fault_stall, "stall_seconds": stall_seconds}
        sandbox = PipedriveSandbox(str(db), api_token or "pd-admin-" + secrets.token_hex(8), user_tokens,
                                   options, subprocess)
        started.append(sandbox)
        return sandbox

    yield factory
    for sandbox in started:
        sandbox.stop()


@pytest.fixture
def pipedrive_sandbox(pipedrive_sandbox_factory) -> PipedriveSandbox:
    """A ready account already in use (users, a pipeline, persons, organizations, deals, custom fields)."""
    return pipedrive_sandbox_factory(fixture="in-use")
