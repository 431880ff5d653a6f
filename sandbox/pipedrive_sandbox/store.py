"""SQLite storage for one sandbox account: records, fields, users, file bytes.

One connection shared by the server threads behind a lock: simple, and fast enough for a sandbox.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from .search_index import SEARCHED_ENTITIES, search_terms

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS sequences (entity TEXT PRIMARY KEY, last_id INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS records (
    entity TEXT NOT NULL, id INTEGER NOT NULL, data TEXT NOT NULL,
    owner_id INTEGER, visible_to INTEGER, deleted INTEGER NOT NULL DEFAULT 0,
    add_time TEXT, update_time TEXT,
    PRIMARY KEY (entity, id)
);
CREATE INDEX IF NOT EXISTS records_live ON records (entity, deleted, id);
CREATE INDEX IF NOT EXISTS records_by_status ON records (entity, deleted, json_extract(data, '$.status'));
CREATE TABLE IF NOT EXISTS blobs (file_id INTEGER PRIMARY KEY, content BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS tokens (token TEXT PRIMARY KEY, user_id INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS search_terms (entity TEXT NOT NULL, id INTEGER NOT NULL, field TEXT NOT NULL,
                                         value TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS search_by_value ON search_terms (entity, field, value);
CREATE INDEX IF NOT EXISTS search_by_record ON search_terms (entity, id);
"""

class Store:
    def __init__(self, path: str):
        self.path = path
        self.lock = threading.RLock()
        self.db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        if path != ":memory:":
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.executescript(SCHEMA)

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Group many writes into one commit (seeding a fresh account)."""
        with self.lock:
            self.db.execute("BEGIN")
            try:
                yield
            except BaseException:
                self.db.execute("ROLLBACK")
                raise
            self.db.execute("COMMIT")

    def close(self) -> None:
        with self.lock:
            self.db.close()

    # --- meta -----------------------------------------------------------------------------------
    def get_meta(self, key: str, default: str | None = None) -> str | None:
        with self.lock:
            row = self.db.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return row[0] if row else default

    def set_meta(self, key: str, value: str) -> None:
        with self.lock:
            self.db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))

    # --- records --------------------------------------------------------------------------------
    def next_id(self, entity: str) -> int:
        with self.lock:
            row = self.db.execute("SELECT last_id FROM sequences WHERE entity=?", (entity,)).fetchone()
            new_id = (row[0] if row else 0) + 1
            self.db.execute("INSERT OR REPLACE INTO sequences (entity, last_id) VALUES (?, ?)", (entity, new_id))
            return new_id

    def insert(self, entity: str, data: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            if not data.get("id"):
                data["id"] = self.next_id(entity)
            elif isinstance(data["id"], int):
                self.reserve_id(entity, data["id"])
            self._write(entity, data, insert=True)
            return data

    def reserve_id(self, entity: str, used_id: int) -> None:
        """An id given from outside (a fixture's): the ids this store hands out next come after it."""
        with self.lock:
            self.db.execute("INSERT INTO sequences (entity, last_id) VALUES (?, ?) ON CONFLICT (entity) "
                            "DO UPDATE SET last_id = max(last_id, excluded.last_id)", (entity, used_id))

    def save(self, entity: str, data: dict[str, Any]) -> dict[str, Any]:
        with self.lock:
            self._write(entity, data, insert=False)
            return data

    def _write(self, entity: str, data: dict[str, Any], insert: bool) -> None:
        verb = "INSERT" if insert else "REPLACE"
        self.db.execute(
            f"{verb} INTO records (entity, id, data, owner_id, visible_to, deleted, add_time, update_time) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (entity, data["id"], json.dumps(data, sort_keys=True), data.get("owner_id"), data.get("visible_to"),
             1 if data.get("is_deleted") else 0, data.get("add_time"), data.get("update_time")),
        )
        if entity in SEARCHED_ENTITIES:
            self.db.execute("DELETE FROM search_terms WHERE entity=? AND id=?", (entity, data["id"]))
            self.db.executemany("INSERT INTO search_terms (entity, id, field, value) VALUES (?, ?, ?, ?)",
                                [(entity, data["id"], f, v) for f, v in search_terms(entity, data)])

    def search(self, entity: str, fields: list[str] | None, pattern: str, exact: bool) -> list[int]:
        """Ids of live records with a term matching `pattern` (LIKE, or equality when exact), by id."""
        sql = "SELECT DISTINCT id FROM search_terms WHERE entity=?"
        args: list[Any] = [entity]
        if fields is not None:
            if not fields:
                return []
            sql += f" AND field IN ({','.join('?' * len(fields))})"
            args += fields
        if exact:
            sql += " AND value = ?"
            args.append(pattern.lower())
        else:
            sql += " AND value LIKE ? ESCAPE '\\'"
            args.append(pattern)
        with self.lock:
            return [row[0] for row in self.db.execute(sql + " ORDER BY id", args).fetchall()]

    def get(self, entity: str, record_id: Any, include_deleted: bool = False) -> dict[str, Any] | None:
        sql = "SELECT data FROM records WHERE entity=? AND id=?" + ("" if include_deleted else " AND deleted=0")
        with self.lock:
            row = self.db.execute(sql, (entity, record_id)).fetchone()
        return json.loads(row[0]) if row else None

    def query(self, entity: str, where: str = "", params: Iterable[Any] = (), order: str = "id ASC",
              limit: int | None = None, offset: int = 0, include_deleted: bool = False) -> list[dict[str, Any]]:
        sql = "SELECT data FROM records WHERE entity=?" + ("" if include_deleted else " AND deleted=0")
        if where:
            sql += f" AND ({where})"
        sql += f" ORDER BY {order}"
        args: list[Any] = [entity, *params]
        if limit is not None:
            sql += " LIMIT ? OFFSET ?"
            args += [limit, offset]
        with self.lock:
            rows = self.db.execute(sql, args).fetchall()
        return [json.loads(row[0]) for row in rows]

    def count(self, entity: str, where: str = "", params: Iterable[Any] = ()) -> int:
        """Live records of `entity` matching `where`."""
        sql = "SELECT COUNT(*) FROM records WHERE entity=? AND deleted=0" + (f" AND ({where})" if where else "")
        with self.lock:
            return int(self.db.execute(sql, [entity, *params]).fetchone()[0])

    def all(self, entity: str) -> list[dict[str, Any]]:
        return self.query(entity)

    # --- file bytes -----------------------------------------------------------------------------
    def put_blob(self, file_id: int, content: bytes) -> None:
        with self.lock:
            self.db.execute("INSERT OR REPLACE INTO blobs (file_id, content) VALUES (?, ?)", (file_id, content))

    def get_blob(self, file_id: int) -> bytes | None:
        with self.lock:
            row = self.db.execute("SELECT content FROM blobs WHERE file_id=?", (file_id,)).fetchone()
        return bytes(row[0]) if row else None

    # --- tokens ---------------------------------------------------------------------------------
    def set_token(self, token: str, user_id: int) -> None:
        with self.lock:
            self.db.execute("INSERT OR REPLACE INTO tokens (token, user_id) VALUES (?, ?)", (token, user_id))

    def user_for_token(self, token: str) -> dict[str, Any] | None:
        with self.lock:
            row = self.db.execute("SELECT user_id FROM tokens WHERE token=?", (token,)).fetchone()
        return self.get("users", row[0]) if row else None
