"""A process-wide lock on the warehouse: ingestion, builds and purges never race on a table."""

from __future__ import annotations

import fcntl
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


class LockTimeout(RuntimeError):
    pass


@contextmanager
def warehouse_lock(warehouse: Path, *, timeout_s: float = 3600.0) -> Iterator[None]:
    """Hold an exclusive advisory lock on ``<warehouse>/_state/warehouse.lock``.

    Re-entrant within one process is not needed: each Dagster step takes it once.
    """
    lock_path = warehouse / "_state" / "warehouse.lock"
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "a+") as fh:
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise LockTimeout(f"another dam process holds {lock_path}") from None
                time.sleep(0.2)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
