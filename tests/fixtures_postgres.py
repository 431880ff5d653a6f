"""A throwaway PostgreSQL server on 127.0.0.1, for Meltano's system database (scripts/local_postgres.py)."""

from __future__ import annotations

import pytest

from scripts.local_postgres import PostgresUnavailable, local_postgres


@pytest.fixture(scope="session")
def postgres_uri():
    """SQLAlchemy URI of a fresh database on a private PostgreSQL server (skips if none can start)."""
    try:
        server = local_postgres()
        uri = server.__enter__()
    except PostgresUnavailable as reason:
        pytest.skip(str(reason))
    try:
        yield uri
    finally:
        server.__exit__(None, None, None)
