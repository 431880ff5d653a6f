"""One load (or rollback) of a migration at a time: an exclusive lock on its state directory.

The operating system releases the lock when the process ends, however it ends (SIGKILL, power loss),
so a crash never leaves a stale lock; a second load started while the first is really alive stops
before its first write. That is what makes `meltano run --force` after a crash safe.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from target_pipedrive.owners import ConfigurationError

LOCK_NAME = "load.lock"


class RunLock:
    def __init__(self, state_dir: Path, what: str = "load") -> None:
        state_dir.mkdir(parents=True, exist_ok=True)
        self.path = state_dir / LOCK_NAME
        self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(self._fd, 64, 0).decode(errors="replace").strip() or "another process"
            os.close(self._fd)
            raise ConfigurationError(
                f"another load or rollback of this migration is running ({holder}, state dir {state_dir}): "
                f"wait for it to finish or stop it, then start the {what} again") from None
        os.ftruncate(self._fd, 0)
        os.pwrite(self._fd, f"pid {os.getpid()}".encode(), 0)

    def release(self) -> None:
        if self._fd >= 0:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = -1
