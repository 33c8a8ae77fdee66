"""Exclusive locks on files (``flock``), for state that several pallet processes change.

Every store of pallet (the engine's container records, the runtime's state directories, images,
snapshots, networks, blobs being pulled) serialises its read-modify-write cycles on a lock file next
to its data.  The lock is released explicitly before the fd is closed: a child forked while it was
held (the in-process runtime's container init, until it execs) shares the open file description, and
a plain close would leave the lock with it.
"""

from __future__ import annotations

import fcntl
import os


def lock_file(path: str) -> int:
    """Open ``path`` (made, mode 0600, if missing in an existing directory) and take an exclusive
    lock on it, waiting for other holders; the fd, for ``unlock_file``."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
    except BaseException:
        os.close(fd)
        raise
    return fd


def unlock_file(fd: int) -> None:
    """Release the lock taken by ``lock_file`` and close its fd."""
    try:
        fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


class FileLock:
    """``with FileLock(path):`` an exclusive lock on ``path`` for the block."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.fd = -1

    def __enter__(self) -> FileLock:
        self.fd = lock_file(self.path)
        return self

    def __exit__(self, *exc: object) -> None:
        if self.fd >= 0:
            fd, self.fd = self.fd, -1
            unlock_file(fd)
