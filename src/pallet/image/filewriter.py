"""Writing a layer's regular files: one ``open(O_CREAT|O_EXCL|O_NOFOLLOW)`` relative to the parent's fd.

Creating files is most of what applying a big layer costs (the kernel's work in ``open(O_CREAT)``),
so each file gets only the calls it needs: created with its permission bits, then ``fchown`` only
when the owner a new file gets (our euid and egid, or a setgid directory's group) is not the
entry's, ``fchmod`` only for special bits or bits the umask took away (and after ``fchown``, which
clears setuid/setgid), xattrs when there are any, and ``futimens``.  (Two worker threads writing
files while the tar is read were measured slower on this 2-core machine: more kernel time in
contention, no shorter wall time; see docs/images.md.)
"""

from __future__ import annotations

import errno
import os

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable

_CREATE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC


def set_xattrs(target: int | str, xattrs: dict[str, bytes]) -> None:
    """Set extended attributes; ones the filesystem or kernel refuses (ENOTSUP, EPERM) are skipped."""
    for name, value in xattrs.items():
        try:
            os.setxattr(target, name, value)
        except OSError as e:
            if e.errno in (errno.ENOTSUP, errno.EPERM):
                continue
            raise OSError(e.errno, f"setting xattr {name!r}: {e.strerror}") from None


class Meta:
    """Owner, mode, mtime and xattrs of an entry, and which of them creating it does not already give."""

    __slots__ = ("chmod", "chown", "gid", "mode", "mtime_ns", "uid", "xattrs")

    def __init__(self, uid: int, gid: int, mode: int, mtime_ns: int, xattrs: dict[str, bytes], chown: bool,
                 chmod: bool) -> None:
        self.uid = uid
        self.gid = gid
        self.mode = mode
        self.mtime_ns = mtime_ns
        self.xattrs = xattrs
        self.chown = chown  # the owner a new file gets (our euid, egid) is not the entry's
        self.chmod = chmod  # special bits, or bits the umask takes away


def write_file(dir_fd: int, name: str, chunks: Iterable[bytes], meta: Meta) -> None:
    """Create the regular file ``name`` in ``dir_fd`` (it must not exist) with its data and metadata."""
    fd = os.open(name, _CREATE, meta.mode & 0o777, dir_fd=dir_fd)
    try:
        for chunk in chunks:
            view = memoryview(chunk)
            while view:
                view = view[os.write(fd, view):]
        if meta.chown:
            os.fchown(fd, meta.uid, meta.gid)
        if meta.chown or meta.chmod:
            os.fchmod(fd, meta.mode)  # after fchown, which clears setuid and setgid
        xattrs = meta.xattrs
        if xattrs:
            set_xattrs(fd, xattrs)
        os.utime(fd, ns=(meta.mtime_ns, meta.mtime_ns))
    finally:
        os.close(fd)
