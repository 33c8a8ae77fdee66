"""Performing a snapshot's mounts (the snapshotters only describe them).

``mount_all(mounts, target)`` mounts a snapshot's list of mounts at ``target``;
``unmount_all(target)`` undoes it.  When an overlay's options exceed the one page mount(2) takes,
the lower dirs are given relative to their common directory (the overlay driver's ``l/``) with the
working directory changed there for the call, as docker's overlay2 does.
"""

from __future__ import annotations

import os

from pallet.errors import RuntimeFailure

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pallet.image.snapshot.base import Mount

PAGE_LIMIT = 4095


def _flags(options: list[str]) -> tuple[int, list[str]]:
    from pallet._linux import consts as c

    table = {
        "ro": c.MS_RDONLY, "nosuid": c.MS_NOSUID, "nodev": c.MS_NODEV, "noexec": c.MS_NOEXEC,
        "bind": c.MS_BIND, "rbind": c.MS_BIND | c.MS_REC, "noatime": c.MS_NOATIME, "relatime": c.MS_RELATIME,
    }
    flags = 0
    data = []
    for opt in options:
        if opt in table:
            flags |= table[opt]
        elif opt != "rw":
            data.append(opt)
    return flags, data


def mount_all(mounts: list[Mount], target: str) -> None:
    """Mount ``mounts`` (in order) at ``target``; on a failure, what was mounted is unmounted."""
    from pallet._linux import consts as c
    from pallet._linux.libc import SyscallError
    from pallet._linux.mount import mount, umount2

    done: list[str] = []
    try:
        for m in mounts:
            dest = os.path.join(target, m.target.lstrip("/")) if m.target else target
            flags, data = _flags(m.options)
            if m.type == "bind" or flags & c.MS_BIND:
                mount(m.source, dest, None, flags & (c.MS_BIND | c.MS_REC))
                done.append(dest)
                if flags & ~(c.MS_BIND | c.MS_REC):
                    mount(None, dest, None, c.MS_REMOUNT | c.MS_BIND | (flags & ~(c.MS_BIND | c.MS_REC)))
                continue
            text = ",".join(data)
            if m.type == "overlay" and len(text) > PAGE_LIMIT:
                _mount_overlay_relative(m.source, dest, flags, data)
            else:
                mount(m.source, dest, m.type, flags, text or None)
            done.append(dest)
    except SyscallError as e:
        for dest in reversed(done):
            umount2(dest, c.MNT_DETACH)
        raise RuntimeFailure(f"mounting the root filesystem at {target} failed: {e}", step="rootfs",
                             errno=e.errno or 0) from None


def _mount_overlay_relative(source: str, dest: str, flags: int, data: list[str]) -> None:
    from pallet._linux.mount import mount

    lowers: list[str] = []
    rest: list[str] = []
    for opt in data:
        if opt.startswith("lowerdir="):
            lowers = opt[len("lowerdir="):].split(":")
        else:
            rest.append(opt)
    common = os.path.commonpath(lowers) if lowers else ""
    rel = [os.path.relpath(p, common) for p in lowers]
    text = ",".join([*rest, "lowerdir=" + ":".join(rel)])
    if len(text) > PAGE_LIMIT:
        raise RuntimeFailure(f"overlay mount options for {dest} are {len(text)} bytes even with short lower "
                             f"names: {len(lowers)} layers is too many (the limit is one page)", step="rootfs")
    dest = os.path.abspath(dest)
    cwd = os.open(".", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.chdir(common)
        mount(source, dest, "overlay", flags, text)
    finally:
        os.fchdir(cwd)
        os.close(cwd)


def unmount_all(target: str) -> None:
    """Unmount everything at ``target`` (lazily, so a busy mount does not stay behind)."""
    from pallet._linux import consts as c
    from pallet._linux.libc import SyscallError
    from pallet._linux.mount import umount2

    while True:
        try:
            umount2(target, c.MNT_DETACH)
        except SyscallError as e:
            if e.errno in (22, 2):  # EINVAL: not a mount point (any more); ENOENT
                return
            raise
