"""openat2(2): open a path relative to a directory fd with the kernel confining its resolution.

``open_in_root(root_fd, path, flags)`` resolves ``path`` as if ``root_fd`` were "/" (RESOLVE_IN_ROOT:
"..", absolute symlinks and relative ones all stay below it) and refuses magic links (/proc/self/fd/N
and the like), so a symlink planted in a container's filesystem cannot lead outside it.
"""

from __future__ import annotations

import errno
import os

from pallet._linux import ffi
from pallet._linux.libc import raw_syscall

RESOLVE_NO_XDEV = 0x01
RESOLVE_NO_MAGICLINKS = 0x02
RESOLVE_NO_SYMLINKS = 0x04
RESOLVE_BENEATH = 0x08
RESOLVE_IN_ROOT = 0x10


class _OpenHow(ffi.Structure):
    _fields_ = [("flags", ffi.c_uint64), ("mode", ffi.c_uint64), ("resolve", ffi.c_uint64)]


def openat2(dirfd: int, path: str, flags: int, mode: int = 0, resolve: int = 0) -> int:
    """The raw call; retried while the kernel answers EAGAIN (a rename raced with the lookup)."""
    how = _OpenHow(flags | os.O_CLOEXEC, mode, resolve)
    raw = os.fsencode(path)
    for _ in range(64):
        try:
            return raw_syscall("openat2", dirfd, raw, ffi.byref(how), ffi.sizeof(how),
                               shown=(dirfd, path, hex(flags), oct(mode), hex(resolve)))
        except OSError as exc:
            if exc.errno != errno.EAGAIN:
                # As the errno's own OSError subclass (FileNotFoundError, NotADirectoryError...).
                raise OSError(exc.errno, f"{os.strerror(exc.errno or 0)}: {path}") from None
    raise OSError(errno.EAGAIN, f"openat2({dirfd}, {path!r}): kept racing with renames")


def open_in_root(root_fd: int, path: str, flags: int = os.O_PATH, mode: int = 0) -> int:
    """``path`` opened below ``root_fd`` as if it were the root directory."""
    return openat2(root_fd, path.lstrip("/") or ".", flags, mode, RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS)
