"""The privileged calls of container set-up behind one interface, with a recording fake.

The runtime's namespace and mount code takes a ``System``; the real one makes the calls, and
``RecordingSystem`` only writes them down, so that the planning (which mounts, in which order, with
which flags, onto which resolved paths) is unit-tested without root.  Reading the filesystem
(resolving paths, creating mount points in a directory) is not privileged and is done for real in
both cases.
"""

from __future__ import annotations

import os

from pallet._linux import host, mount, ns


class System:
    """The real system calls."""

    def mount(self, source: str | None, target: str, fstype: str | None, flags: int = 0, data: str | None = None) -> None:
        mount.mount(source, target, fstype, flags, data)

    def umount2(self, target: str, flags: int = 0) -> None:
        mount.umount2(target, flags)

    def pivot_root(self, new_root: str, put_old: str) -> None:
        mount.pivot_root(new_root, put_old)

    def chroot(self, path: str) -> None:
        os.chroot(path)

    def mknod(self, path: str, mode: int, device: int) -> None:
        os.mknod(path, mode, device)

    def chown(self, path: str, uid: int, gid: int) -> None:
        os.chown(path, uid, gid, follow_symlinks=False)

    def unshare(self, flags: int) -> None:
        ns.unshare(flags)

    def setns(self, fd: int, nstype: int = 0) -> None:
        ns.setns(fd, nstype)

    def sethostname(self, name: str) -> None:
        host.sethostname(name)

    def setdomainname(self, name: str) -> None:
        host.setdomainname(name)

    def write_file(self, path: str, data: str) -> None:
        fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC | os.O_NOFOLLOW)
        try:
            os.write(fd, data.encode())
        finally:
            os.close(fd)


def _shown(path: str) -> str:
    if path.startswith("/proc/self/fd/"):
        try:
            return os.readlink(path)
        except OSError:
            return path
    return path


class RecordingSystem(System):
    """Writes every call down in ``calls`` as a tuple (name, *args) instead of making it.

    Paths given as /proc/self/fd/N (how the runtime mounts onto verified file descriptors) are
    recorded as the path the descriptor points to.  ``fail`` maps a call name to an OSError to raise.
    """

    def __init__(self) -> None:
        self.calls: list[tuple[object, ...]] = []
        self.fail: dict[str, OSError] = {}

    def _record(self, name: str, *args: object) -> None:
        self.calls.append((name, *args))
        if name in self.fail:
            raise self.fail[name]

    def mount(self, source: str | None, target: str, fstype: str | None, flags: int = 0, data: str | None = None) -> None:
        self._record("mount", source, _shown(target), fstype, flags, data)

    def umount2(self, target: str, flags: int = 0) -> None:
        self._record("umount2", _shown(target), flags)

    def pivot_root(self, new_root: str, put_old: str) -> None:
        self._record("pivot_root", new_root, put_old)

    def chroot(self, path: str) -> None:
        self._record("chroot", path)

    def mknod(self, path: str, mode: int, device: int) -> None:
        self._record("mknod", path, mode, device)

    def chown(self, path: str, uid: int, gid: int) -> None:
        self._record("chown", path, uid, gid)

    def unshare(self, flags: int) -> None:
        self._record("unshare", flags)

    def setns(self, fd: int, nstype: int = 0) -> None:
        self._record("setns", fd, nstype)

    def sethostname(self, name: str) -> None:
        self._record("sethostname", name)

    def setdomainname(self, name: str) -> None:
        self._record("setdomainname", name)

    def write_file(self, path: str, data: str) -> None:
        self._record("write_file", path, data)

    def names(self) -> list[object]:
        return [c[0] for c in self.calls]
