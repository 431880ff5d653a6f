"""Durable SQLite ledger of every write, and the append-only rollback manifest."""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

PRIVATE = 0o600
ORIGIN_CREATED = "created"  # a ledger row's origin: the migration created the record
ORIGIN_PREEXISTING = "preexisting"  # a record already in the account that the migration adopted and updated


def private_file(path: Path) -> Path:
    """Create `path` (if needed) readable by its owner only."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_CREAT | os.O_APPEND | os.O_WRONLY, PRIVATE)
    os.close(fd)
    os.chmod(path, PRIVATE)
    return path


def content_hash(payload: Any) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


class LandedEntity(NamedTuple):
    """One entity the ledger holds as landed (status `done`)."""

    stream: str
    source_id: str
    origin: str  # ORIGIN_CREATED or ORIGIN_PREEXISTING
    run_id: str  # the last run that wrote it
    pipedrive_id: int | None


class Ledger:
    """(stream, source_id) → Pipedrive id, with the hash and body of what was sent.

    A row is written as `pending` before a create is sent and turned `done` once Pipedrive's
    answer is in hand; a `pending` row found on start-up marks a create that may have landed.
    `deleted` marks a record removed by `on_source_delete: delete` (a later copy of it is created again).

    For the cutover, each row also keeps Pipedrive's `update_time` as our last write left it
    (`landed_update_time`: a later one means someone changed the record in Pipedrive since), and
    `team`: the fields the team changed in Pipedrive that a delta left as the team set them.
    """

    SCHEMA = """
    CREATE TABLE IF NOT EXISTS entities (
        stream TEXT NOT NULL,
        source_id TEXT NOT NULL,
        pipedrive_id INTEGER,
        status TEXT NOT NULL,
        origin TEXT NOT NULL DEFAULT 'created',
        content_hash TEXT,
        sent TEXT,
        run_id TEXT NOT NULL,
        updated_at REAL NOT NULL,
        landed_update_time TEXT,
        team TEXT,
        PRIMARY KEY (stream, source_id)
    );
    CREATE INDEX IF NOT EXISTS entities_by_id ON entities (stream, pipedrive_id);
    """

    def __init__(self, path: Path) -> None:
        self.path = private_file(path)
        self._lock = threading.Lock()
        self._commit_lock = threading.Lock()
        self._written = 0  # statements executed
        self._durable = 0  # statements committed (fsynced)
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(self.SCHEMA)
        columns = {row[1] for row in self._db.execute("PRAGMA table_info(entities)")}
        for column in ("landed_update_time", "team"):
            if column not in columns:  # a ledger written before the cutover columns existed
                self._db.execute(f"ALTER TABLE entities ADD COLUMN {column} TEXT")
        for suffix in ("-wal", "-shm"):
            side = Path(f"{path}{suffix}")
            if side.exists():
                os.chmod(side, PRIVATE)

    def get(self, stream: str, source_id: str) -> dict | None:
        with self._lock:
            row = self._db.execute(
                "SELECT pipedrive_id, status, origin, content_hash, sent, run_id, updated_at, landed_update_time,"
                " team FROM entities WHERE stream=? AND source_id=?",
                (stream, source_id),
            ).fetchone()
        if row is None:
            return None
        keys = ("pipedrive_id", "status", "origin", "content_hash", "sent", "run_id", "updated_at",
                "landed_update_time", "team")
        entry = dict(zip(keys, row, strict=True))
        entry["team"] = json.loads(entry["team"] or "{}")
        return entry

    def owner_of(self, stream: str, pipedrive_id: int) -> str | None:
        """The source id whose record is this Pipedrive record, if any."""
        with self._lock:
            row = self._db.execute(
                "SELECT source_id FROM entities WHERE stream=? AND pipedrive_id=? AND status='done'",
                (stream, pipedrive_id),
            ).fetchone()
        return row[0] if row else None

    def pipedrive_id(self, stream: str, source_id: str) -> int | None:
        entry = self.get(stream, source_id)
        return entry["pipedrive_id"] if entry and entry["status"] == "done" else None

    def _write(self, sql: str, params: tuple) -> None:
        """Execute, then return only once the statement is committed to disk (group commit).

        Writes queued while another thread's commit is syncing share the next commit: one fsync for many
        records, and still no caller goes on (e.g. sends its POST) before its own write is durable.
        """
        with self._lock:
            if not self._db.in_transaction:
                self._db.execute("BEGIN")
            self._db.execute(sql, params)
            self._written += 1
            ticket = self._written
        with self._commit_lock:
            if self._durable >= ticket:
                return
            with self._lock:
                upto = self._written
                if self._db.in_transaction:
                    self._db.execute("COMMIT")
            self._durable = upto

    def mark_pending(self, stream: str, source_id: str, run_id: str) -> None:
        self._write(
                "INSERT INTO entities (stream, source_id, status, run_id, updated_at) VALUES (?,?,?,?,?)"
                " ON CONFLICT(stream, source_id) DO UPDATE SET status='pending', updated_at=excluded.updated_at",
                (stream, source_id, "pending", run_id, time.time()),
        )

    def mark_done(
        self,
        stream: str,
        source_id: str,
        pipedrive_id: int,
        sent: dict,
        run_id: str,
        origin: str = "created",
        landed_update_time: str | None = None,
        team: dict | None = None,
    ) -> None:
        """`landed_update_time`: Pipedrive's `update_time` after this write (None: no write, or not known: the
        previous one is kept); `team`: the fields the team owns now (None: unchanged)."""
        self._write(
                "INSERT INTO entities (stream, source_id, pipedrive_id, status, origin, content_hash, sent,"
                " run_id, updated_at, landed_update_time, team) VALUES (?,?,?,?,?,?,?,?,?,?,?)"
                " ON CONFLICT(stream, source_id) DO UPDATE SET pipedrive_id=excluded.pipedrive_id,"
                " status='done', origin=CASE WHEN entities.status='done' THEN entities.origin"
                " ELSE excluded.origin END, content_hash=excluded.content_hash, sent=excluded.sent,"
                " run_id=excluded.run_id, updated_at=excluded.updated_at,"
                " landed_update_time=COALESCE(excluded.landed_update_time, entities.landed_update_time),"
                " team=COALESCE(excluded.team, entities.team)",
                (
                    stream,
                    source_id,
                    pipedrive_id,
                    "done",
                    origin,
                    content_hash(sent),
                    json.dumps(sent, sort_keys=True, default=str),
                    run_id,
                    time.time(),
                    landed_update_time,
                    None if team is None else json.dumps(team, sort_keys=True, default=str),
                ),
        )

    def mark_deleted(self, stream: str, source_id: str) -> None:
        """Removed from Pipedrive on purpose (`on_source_delete: delete`): no longer landed, still on record."""
        self._write("UPDATE entities SET status='deleted', updated_at=? WHERE stream=? AND source_id=?",
                    (time.time(), stream, source_id))

    def restored(self, stream: str, source_id: str, pipedrive_id: int, sent: dict, run_id: str,
                 landed_update_time: str | None) -> None:
        """A record `mark_deleted` removed, created again by a rollback: landed again under its new id."""
        self._write("UPDATE entities SET status='done', pipedrive_id=?, content_hash=?, sent=?, run_id=?, updated_at=?,"
                    " landed_update_time=?, team=NULL WHERE stream=? AND source_id=?",
                    (pipedrive_id, content_hash(sent), json.dumps(sent, sort_keys=True, default=str), run_id,
                     time.time(), landed_update_time, stream, source_id))

    def forget(self, stream: str, pipedrive_id: int) -> None:
        self._write("DELETE FROM entities WHERE stream=? AND pipedrive_id=?", (stream, pipedrive_id))

    def forget_pending(self, stream: str, source_id: str) -> None:
        self._write("DELETE FROM entities WHERE stream=? AND source_id=? AND status='pending'", (stream, source_id))

    _DONE_COLUMNS = "source_id, pipedrive_id, sent, origin, run_id, updated_at, landed_update_time, team"

    @staticmethod
    def _done_row(row: tuple) -> dict:
        source_id, pipedrive_id, sent, origin, run_id, updated_at, landed, team = row
        return {"source_id": source_id, "pipedrive_id": pipedrive_id, "sent": json.loads(sent or "{}"),
                "origin": origin, "run_id": run_id, "updated_at": updated_at, "landed_update_time": landed,
                "team": json.loads(team or "{}")}

    def done_rows(self, stream: str) -> list[dict]:
        with self._lock:
            rows = self._db.execute(
                f"SELECT {self._DONE_COLUMNS} FROM entities WHERE stream=? AND status='done' ORDER BY pipedrive_id",
                (stream,),
            ).fetchall()
        return [self._done_row(row) for row in rows]

    def done_row_by_id(self, stream: str, pipedrive_id: int) -> dict | None:
        """The landed row of a Pipedrive record (as `done_rows` gives it), if a run of ours wrote it."""
        with self._lock:
            row = self._db.execute(
                f"SELECT {self._DONE_COLUMNS} FROM entities WHERE stream=? AND pipedrive_id=? AND status='done'",
                (stream, pipedrive_id),
            ).fetchone()
        return self._done_row(row) if row else None

    def landed_keys(self, streams: tuple[str, ...]) -> dict[tuple[str, int], str]:
        """(stream, Pipedrive id) → source id of every landed row of `streams`; no payloads."""
        return {key: source_id for key, (source_id, _, _) in self.landed_times(streams).items()}

    def landed_times(self, streams: tuple[str, ...]) -> dict[tuple[str, int], tuple[str, str | None, float]]:
        """(stream, Pipedrive id) → (source id, landed_update_time, updated_at) of every landed row of
        `streams`: what tells a record changed in Pipedrive since it landed, without the payloads."""
        marks = ",".join("?" * len(streams))
        with self._lock:
            rows = self._db.execute(
                "SELECT stream, pipedrive_id, source_id, landed_update_time, updated_at FROM entities"
                f" WHERE status='done' AND stream IN ({marks})",
                streams,
            ).fetchall()
        return {(stream, int(pipedrive_id)): (source_id, landed, updated_at)
                for stream, pipedrive_id, source_id, landed, updated_at in rows}

    def landed_links(self, streams: tuple[str, ...], chunk: int = 2000) -> Iterator[tuple[str, str, int, str, str, dict]]:
        """Every landed row of `streams` as (stream, source_id, pipedrive_id, origin, run_id, sent), read a
        chunk at a time: a clinic's whole ledger with its payloads is ~150 MB as Python objects."""
        marks = ",".join("?" * len(streams))
        after = 0
        while True:
            with self._lock:
                rows = self._db.execute(
                    "SELECT rowid, stream, source_id, pipedrive_id, origin, run_id, sent FROM entities"
                    f" WHERE rowid > ? AND status='done' AND stream IN ({marks}) ORDER BY rowid LIMIT ?",
                    (after, *streams, chunk),
                ).fetchall()
            if not rows:
                return
            for rowid, stream, source_id, pipedrive_id, origin, run_id, sent in rows:
                after = rowid
                yield stream, source_id, pipedrive_id, origin, run_id, json.loads(sent or "{}")

    def has_landed_from(self, streams: tuple[str, ...], record_id: str) -> bool:
        """Whether an entity of `streams` made from source record `record_id` (its own source id, or
        `record_id#…`: a part of it) has landed."""
        with self._lock:
            for stream in streams:  # the primary key's range: record_id itself up to record_id + '$' ('#' + 1)
                row = self._db.execute(
                    "SELECT 1 FROM entities WHERE stream=? AND source_id >= ? AND source_id < ?"
                    " AND (source_id = ? OR source_id >= ?) AND status='done' LIMIT 1",
                    (stream, record_id, f"{record_id}$", record_id, f"{record_id}#"),
                ).fetchone()
                if row is not None:
                    return True
        return False

    def rows_with_status(self, stream: str, status: str) -> list[dict]:
        with self._lock:
            rows = self._db.execute("SELECT source_id, pipedrive_id, run_id FROM entities WHERE stream=? AND status=?",
                                    (stream, status)).fetchall()
        return [{"source_id": s, "pipedrive_id": p, "run_id": r} for s, p, r in rows]

    def counts(self) -> dict[str, int]:
        with self._lock:
            rows = self._db.execute(
                "SELECT stream, COUNT(*) FROM entities WHERE status='done' GROUP BY stream"
            ).fetchall()
        return dict(rows)

    def close(self) -> None:
        with self._lock:
            if self._db.in_transaction:
                self._db.execute("COMMIT")
            self._db.close()

    @staticmethod
    def read_landed(path: Path) -> list[LandedEntity]:
        """Every landed entity of the ledger at `path`, for readers outside the load (the migration report).

        Query-only: the file is never created, migrated or changed, and a ledger a running load holds open
        (WAL mode) is read as committed so far. A `pending` create may never have landed and rollback deletes
        the rows of what it deleted (`forget`): neither is returned. FileNotFoundError when there is no
        file; sqlite3.Error when the file is not a ledger.
        """
        if not path.is_file():
            raise FileNotFoundError(path)
        # read-write but query-only rather than `mode=ro`: when it is the last connection to close, SQLite
        # checkpoints and removes the -wal/-shm files, so the state folder is left as it was found
        database = sqlite3.connect(f"{path.resolve().as_uri()}?mode=rw", uri=True)
        try:
            database.execute("PRAGMA query_only = ON")
            rows = database.execute(
                "SELECT stream, source_id, origin, run_id, pipedrive_id FROM entities WHERE status = 'done'"
            ).fetchall()
        finally:
            database.close()
        return [LandedEntity(*row) for row in rows]


class Manifest:
    """Append-only JSON lines, one flushed line per created object or updated pre-existing record."""

    def __init__(self, path: Path) -> None:
        self.path = private_file(path)
        self._lock = threading.Lock()
        self._sync_lock = threading.Lock()
        self._written = 0
        self._synced = 0

    def append(self, entry: dict) -> None:
        """Returns once the line is on disk; lines appended during another thread's fsync share the next one."""
        line = json.dumps({**entry, "at": time.time()}, sort_keys=True, default=str)
        with self._lock:
            with open(self.path, "a", encoding="utf-8") as handle:
                handle.write(line + "\n")
            self._written += 1
            ticket = self._written
        with self._sync_lock:
            if self._synced >= ticket:
                return
            upto = self._written
            fd = os.open(self.path, os.O_RDONLY)
            try:
                os.fsync(fd)  # syncs the file, whichever descriptor wrote it
            finally:
                os.close(fd)
            self._synced = upto

    def entries(self) -> list[dict]:
        if not self.path.exists():
            return []
        lines = self.path.read_text(encoding="utf-8").splitlines()
        return [json.loads(line) for line in lines if line.strip()]


class JsonLines:
    """A private append-only JSON-lines file (skip file, rollback progress)."""

    def __init__(self, path: Path) -> None:
        self.path = private_file(path)
        self._lock = threading.Lock()

    def append(self, entry: dict) -> None:
        with self._lock, open(self.path, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(entry, sort_keys=True, default=str) + "\n")
            handle.flush()

    def entries(self) -> list[dict]:
        lines = self.path.read_text(encoding="utf-8").splitlines()
        return [json.loads(line) for line in lines if line.strip()]
