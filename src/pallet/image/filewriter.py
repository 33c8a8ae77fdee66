"""Writing a layer's regular files: in the applying thread, or on worker threads while the tar is read.

Creating files is most of what applying a big layer costs (the kernel's work in ``open(O_CREAT)``,
``write``, ``fchown``, ``utime``), and Python gives it one core.  ``Writers`` hands whole small files
(the tar data already read, counted and hashed by the applying thread) to two worker threads, which
create them with ``O_CREAT|O_EXCL|O_NOFOLLOW`` relative to a duplicate of their parent directory's
fd: the same calls as the applying thread would make, so the same guarantees (no path is resolved
by the kernel through a symlink; nothing outside the layer root can be named).

The applier keeps the order of the tar where it matters: before it touches a path that a pending
write will create, removes anything, or makes a hard link, it calls ``drain()``, which waits for
every pending write and raises the first error.  Memory is bounded (``PENDING_BYTES``).
"""

from __future__ import annotations

import errno
import os

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections import deque
    from collections.abc import Iterable
    from concurrent.futures import Future, ThreadPoolExecutor

ASYNC_MAX = 4 << 20  # larger files are written by the applying thread as they are read
PENDING_BYTES = 32 << 20
PENDING_FILES = 1024
THREADS = 2
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


def _job(dir_fd: int, name: str, data: bytes, meta: Meta) -> None:
    try:
        write_file(dir_fd, name, (data,), meta)
    finally:
        os.close(dir_fd)


class WriteFailed(Exception):
    """A pending write failed: ``entry`` is the tar entry, ``error`` the OSError."""

    def __init__(self, entry: str, error: BaseException) -> None:
        super().__init__(entry, error)
        self.entry = entry
        self.error = error


class Writers:
    """Worker threads writing whole files; ``pending`` holds the real paths not yet written."""

    def __init__(self, threads: int = THREADS) -> None:
        from collections import deque
        from concurrent.futures import ThreadPoolExecutor

        self.pool: ThreadPoolExecutor = ThreadPoolExecutor(threads, thread_name_prefix="layer-write")
        self.queue: deque[tuple[Future[None], tuple[str, ...], str, int]] = deque()
        self.pending: set[tuple[str, ...]] = set()
        self.bytes = 0

    def submit(self, key: tuple[str, ...], entry: str, dir_fd: int, name: str, data: bytes, meta: Meta) -> None:
        fd = os.dup(dir_fd)  # the applier may close its own fd (a cache) before the job runs
        try:
            fut = self.pool.submit(_job, fd, name, data, meta)
        except BaseException:
            os.close(fd)
            raise
        self.queue.append((fut, key, entry, len(data)))
        self.pending.add(key)
        self.bytes += len(data)
        while self.queue and (self.bytes > PENDING_BYTES or len(self.queue) > PENDING_FILES):
            self._pop()

    def _pop(self) -> None:
        fut, key, entry, size = self.queue.popleft()
        self.pending.discard(key)
        self.bytes -= size
        try:
            fut.result()
        except Exception as e:
            raise WriteFailed(entry, e) from None

    def drain(self) -> None:
        """Wait for every pending write; the first failure is raised (as WriteFailed)."""
        while self.queue:
            self._pop()

    def close(self) -> None:
        """Wait for the workers to stop (errors of writes nobody waits for any more are dropped)."""
        try:
            while self.queue:
                try:
                    self._pop()
                except WriteFailed:
                    continue
        finally:
            self.pool.shutdown(wait=True)
