"""Every file this process writes is its user's alone: files 0600, folders 0700.

Each command line entry point calls ``private_outputs()`` first. A umask, rather than a chmod after each
write, also covers what libraries create for us (SQLite's journal and WAL, downloads, Singer captures,
temporary files) and every folder made on the way, and no write added later can forget it.
"""

from __future__ import annotations

import os

PRIVATE_UMASK = 0o077


def private_outputs() -> None:
    os.umask(PRIVATE_UMASK)
