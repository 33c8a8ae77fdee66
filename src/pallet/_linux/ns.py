"""Namespaces: unshare and setns."""

from __future__ import annotations

import os

from pallet._linux.libc import check, libc, raw_syscall

_unshare = libc.unshare


def unshare(flags: int) -> None:
    """unshare(2) the namespaces named by CLONE_* ``flags``."""
    check(_unshare(flags), "unshare", (hex(flags),))


def setns(fd: int, nstype: int = 0) -> None:
    """setns(2): join the namespace open at ``fd`` (or a pidfd with CLONE_* ``nstype``)."""
    raw_syscall("setns", fd, nstype, shown=(fd, hex(nstype)))


def ns_inode(pid: int | str, name: str) -> int:
    """The inode number of namespace ``name`` (net, mnt, ...) of process ``pid`` (or 'self')."""
    return os.stat(f"/proc/{pid}/ns/{name}").st_ino
