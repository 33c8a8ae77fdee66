"""Mounts: mount, umount2, pivot_root and the new mount API (open_tree, move_mount, mount_setattr)."""

from __future__ import annotations

from pallet._linux import ffi
from pallet._linux.consts import AT_FDCWD
from pallet._linux.libc import check, cstr, libc, raw_syscall

_mount = libc.mount
_mount.argtypes = [ffi.c_char_p, ffi.c_char_p, ffi.c_char_p, ffi.c_ulong, ffi.c_char_p]
_umount2 = libc.umount2
_umount2.argtypes = [ffi.c_char_p, ffi.c_int]


def mount(source: str | None, target: str, fstype: str | None, flags: int = 0, data: str | None = None) -> None:
    """mount(2)."""
    ret = _mount(cstr(source), cstr(target), cstr(fstype), flags, cstr(data))
    check(ret, "mount", (source, target, fstype, hex(flags), data))


def umount2(target: str, flags: int = 0) -> None:
    """umount2(2)."""
    check(_umount2(cstr(target), flags), "umount2", (target, flags))


def pivot_root(new_root: str, put_old: str) -> None:
    """pivot_root(2)."""
    raw_syscall("pivot_root", cstr(new_root), cstr(put_old), shown=(new_root, put_old))


def open_tree(path: str, flags: int, dirfd: int = AT_FDCWD) -> int:
    """open_tree(2): a file descriptor for the mount at ``path`` (a detached clone with OPEN_TREE_CLONE)."""
    return raw_syscall("open_tree", dirfd, cstr(path), ffi.c_uint(flags), shown=(dirfd, path, hex(flags)))


def move_mount(from_fd: int, from_path: str, to_fd: int, to_path: str, flags: int) -> None:
    """move_mount(2)."""
    raw_syscall(
        "move_mount", from_fd, cstr(from_path), to_fd, cstr(to_path), ffi.c_uint(flags),
        shown=(from_fd, from_path, to_fd, to_path, hex(flags)),
    )


class _MountAttr(ffi.Structure):
    _fields_ = [
        ("attr_set", ffi.c_uint64),
        ("attr_clr", ffi.c_uint64),
        ("propagation", ffi.c_uint64),
        ("userns_fd", ffi.c_uint64),
    ]


def mount_setattr(
    dirfd: int, path: str, flags: int, attr_set: int, attr_clr: int = 0, propagation: int = 0, userns_fd: int = 0
) -> None:
    """mount_setattr(2); with MOUNT_ATTR_IDMAP and ``userns_fd`` it makes an idmapped mount."""
    attr = _MountAttr(attr_set, attr_clr, propagation, userns_fd)
    raw_syscall(
        "mount_setattr", dirfd, cstr(path), ffi.c_uint(flags), ffi.byref(attr), ffi.sizeof(attr),
        shown=(dirfd, path, hex(flags), hex(attr_set), userns_fd),
    )
