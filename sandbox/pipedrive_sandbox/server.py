"""Build an account and serve it with waitress on 127.0.0.1 (in a thread or in the foreground)."""

from __future__ import annotations

import contextlib
import logging
import os
import tempfile
import threading
from dataclasses import dataclass, field
from typing import Any

from faker import Faker
from waitress.server import create_server

from .account import Account
from .app import create_app
from .config import Settings
from .seed import parse_users
from .spec import load_catalog
from .store import Store

HOST = "127.0.0.1"
THREADS = 8
LOOP_TIMEOUT = 0.1  # seconds; how quickly a stopped server notices


class _DeliberateDrops(logging.Filter):
    """A "drop" fault cuts an answer short on purpose: waitress's warning about each one is noise."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "returned too few bytes" not in record.getMessage()


logging.getLogger("waitress").addFilter(_DeliberateDrops())


@dataclass
class SandboxOptions:
    api_token: str
    port: int = 0
    plan: str = "lite"
    seats: int = 3
    users: Any = 3
    seed: int = 0
    fixture: str = "empty"
    db: str | None = None  # None: a fresh temporary file; ":memory:" keeps nothing
    time_scale: float = 1.0
    daily_budget: int | None = None
    fault_5xx: float = 0.0
    fault_429: float = 0.0
    fault_drop: float = 0.0
    fault_stall: float = 0.0
    stall_seconds: float = 5.0
    user_tokens: dict[str, str] = field(default_factory=dict)
    spec_dir: str | None = None


class SandboxServer:
    def __init__(self, options: SandboxOptions):
        if not options.api_token:
            raise ValueError("an API token is required")
        self.options = options
        db = options.db
        self._owns_db = db is None  # a temporary database is removed at stop
        if db is None:
            handle, db = tempfile.mkstemp(prefix="pipedrive-sandbox-", suffix=".sqlite3")
            os.close(handle)
        self.db_path = db
        settings = Settings(plan=options.plan, seats=options.seats, time_scale=options.time_scale,
                            daily_budget=options.daily_budget, fault_5xx=options.fault_5xx,
                            fault_429=options.fault_429, fault_drop=options.fault_drop,
                            fault_stall=options.fault_stall, stall_seconds=options.stall_seconds)
        faker = Faker()
        faker.seed_instance(options.seed)
        users = parse_users(options.users, faker)
        self.store = Store(db)
        self.account = Account(self.store, settings, load_catalog(options.spec_dir), options.api_token, users,
                               options.fixture, options.seed, dict(options.user_tokens))
        self.app = create_app(self.account)
        self.server = create_server(self.app, host=HOST, port=options.port, threads=THREADS,
                                    clear_untrusted_proxy_headers=True, ident="pipedrive-sandbox",
                                    asyncore_loop_timeout=LOOP_TIMEOUT)
        self.thread: threading.Thread | None = None
        self._stopping = threading.Event()

    @property
    def port(self) -> int:
        return int(self.server.effective_port)

    @property
    def base_url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def serve_forever(self) -> None:
        """Serve until stop(): one short poll at a time, so no other thread ever closes our descriptors."""
        server = self.server
        while not self._stopping.is_set():
            server.asyncore.loop(timeout=LOOP_TIMEOUT, map=server._map, use_poll=server.adj.asyncore_use_poll,
                                 count=1)

    def start(self) -> SandboxServer:
        self.thread = threading.Thread(target=self.serve_forever, name=f"pipedrive-sandbox-{self.port}", daemon=True)
        self.thread.start()
        return self

    def stop(self) -> None:
        """Stop polling, let in-flight requests finish, then close every socket and the database."""
        self._stopping.set()
        if self.thread:
            self.thread.join(timeout=10)
        self.server.task_dispatcher.shutdown(timeout=5)
        for channel in list(self.server._map.values()):
            channel.close()
        self.store.close()
        if self._owns_db:
            for suffix in ("", "-wal", "-shm"):
                with contextlib.suppress(FileNotFoundError):
                    os.remove(self.db_path + suffix)
