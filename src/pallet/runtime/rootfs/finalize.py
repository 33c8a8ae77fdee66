"""pivot_root (or chroot), then what is done from inside the new root: masked and read-only paths."""

from __future__ import annotations

import os
import stat

from pallet._linux import consts as c
from pallet.errors import RuntimeFailure
from pallet.runtime.rootfs.devices import check_dev_null
from pallet.runtime.rootfs.mounts import statvfs_flags

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pallet._linux.system import System


def pivot_root(sys: System, rootfs: str) -> None:
    """Make ``rootfs`` the root and detach the old one (pivot_root(".", ".") as runc does)."""
    old = os.open("/", os.O_DIRECTORY | os.O_RDONLY | os.O_CLOEXEC)
    new = os.open(rootfs, os.O_DIRECTORY | os.O_RDONLY | os.O_CLOEXEC)
    try:
        os.fchdir(new)
        try:
            sys.pivot_root(".", ".")
        except OSError as exc:
            raise RuntimeFailure(f"pivot_root to {rootfs} failed: {exc.strerror} (try --no-pivot on a ramfs root)",
                                 step="pivot_root", errno=exc.errno or 0) from exc
        os.fchdir(old)
        # The old root is stacked on top: keep its unmount from propagating to the host, then drop it.
        sys.mount(None, ".", None, c.MS_SLAVE | c.MS_REC)
        sys.umount2(".", c.MNT_DETACH)
    finally:
        os.close(old)
        os.close(new)
    os.chdir("/")


def move_root(sys: System, rootfs: str) -> None:
    """--no-pivot: move the rootfs mount over / and chroot into it."""
    os.chdir(rootfs)
    sys.mount(rootfs, "/", None, c.MS_MOVE)
    sys.chroot(".")
    os.chdir("/")


def mask_paths(sys: System, paths: list[str]) -> None:
    """Hide each path: /dev/null over a file, an empty read-only tmpfs over a directory."""
    if not paths:
        return
    checked = False
    for path in paths:
        try:
            st = os.lstat(path)
        except (FileNotFoundError, NotADirectoryError):
            continue
        if stat.S_ISDIR(st.st_mode):
            sys.mount("tmpfs", path, "tmpfs", c.MS_RDONLY, None)
            continue
        if not checked:
            check_dev_null()
            checked = True
        sys.mount("/dev/null", path, None, c.MS_BIND)


def readonly_paths(sys: System, paths: list[str]) -> None:
    for path in paths:
        if not os.path.lexists(path):
            continue
        sys.mount(path, path, None, c.MS_BIND | c.MS_REC)
        flags = c.MS_BIND | c.MS_REMOUNT | c.MS_RDONLY | statvfs_flags(path)
        sys.mount(None, path, None, flags)


def readonly_root(sys: System) -> None:
    sys.mount(None, "/", None, c.MS_BIND | c.MS_REMOUNT | c.MS_RDONLY | statvfs_flags("/"))
