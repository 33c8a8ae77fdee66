"""pallet.filelock: one exclusive lock per file, released even while a forked child still holds the fd."""

from __future__ import annotations

import fcntl
import os
import signal
from pathlib import Path

import pytest

from pallet.filelock import FileLock, lock_file, unlock_file


def _can_lock(path: Path) -> bool:
    fd = os.open(path, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        return False
    finally:
        os.close(fd)  # another open file description: its lock goes with it


def test_the_lock_excludes_others_until_released(tmp_path: Path) -> None:
    path = tmp_path / "lock"
    with FileLock(str(path)):
        assert path.exists() and oct(path.stat().st_mode & 0o777) == "0o600"
        assert not _can_lock(path)
    assert _can_lock(path)
    fd = lock_file(str(path))
    assert not _can_lock(path)
    unlock_file(fd)
    assert _can_lock(path)


def test_a_forked_child_does_not_keep_the_lock(tmp_path: Path) -> None:
    path = tmp_path / "lock"
    with FileLock(str(path)):
        child = os.fork()
        if child == 0:  # holds the inherited fd (the same open file description) for a while
            signal.pause()
            os._exit(0)
    try:
        assert _can_lock(path)
    finally:
        os.kill(child, signal.SIGKILL)
        os.waitpid(child, 0)


def test_a_missing_directory_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        FileLock(str(tmp_path / "gone" / "lock")).__enter__()
