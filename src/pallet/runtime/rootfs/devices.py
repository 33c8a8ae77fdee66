"""A fresh /dev for the container: the standard devices, linux.devices, and the usual links."""

from __future__ import annotations

import os
import stat

from pallet._linux import consts as c
from pallet.errors import ConfigError, RuntimeFailure
from pallet.runtime.rootfs.paths import create_mount_target, open_in_root, resolve_in_root

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pallet._linux.system import System

# path, type, major, minor, mode: what every container gets (as runc and docker give)
DEFAULT_DEVICES: tuple[tuple[str, str, int, int, int], ...] = (
    ("/dev/null", "c", 1, 3, 0o666),
    ("/dev/zero", "c", 1, 5, 0o666),
    ("/dev/full", "c", 1, 7, 0o666),
    ("/dev/random", "c", 1, 8, 0o666),
    ("/dev/urandom", "c", 1, 9, 0o666),
    ("/dev/tty", "c", 5, 0, 0o666),
)

LINKS: tuple[tuple[str, str], ...] = (
    ("/proc/self/fd", "/dev/fd"),
    ("/proc/self/fd/0", "/dev/stdin"),
    ("/proc/self/fd/1", "/dev/stdout"),
    ("/proc/self/fd/2", "/dev/stderr"),
)

_TYPES = {"c": stat.S_IFCHR, "u": stat.S_IFCHR, "b": stat.S_IFBLK, "p": stat.S_IFIFO}


def create_devices(sys: System, rootfs: str, devices: list[dict[str, object]], *, bind: bool) -> None:
    """Create the default devices and ``devices`` (linux.devices) under the rootfs.

    ``bind``: in a user namespace mknod is not allowed, so the host's device nodes are bind-mounted.
    """
    wanted: dict[str, tuple[str, int, int, int, int | None, int | None]] = {}
    for path, kind, major, minor, mode in DEFAULT_DEVICES:
        wanted[path] = (kind, major, minor, mode, 0, 0)
    for i, d in enumerate(devices):
        path = str(d.get("path", ""))
        kind = str(d.get("type", "c"))
        if kind not in _TYPES:
            raise ConfigError(f"linux.devices[{i}].type {kind!r} is not a device type (allowed: c, b, u, p)")
        fmode = d.get("fileMode")
        uid, gid = d.get("uid"), d.get("gid")
        wanted[path] = (
            kind, _int(d.get("major")), _int(d.get("minor")),
            int(fmode) if isinstance(fmode, int) else 0o666,
            int(uid) if isinstance(uid, int) else None, int(gid) if isinstance(gid, int) else None,
        )
    old = os.umask(0)
    try:
        for path, (kind, major, minor, mode, uid, gid) in wanted.items():
            host = resolve_in_root(rootfs, path)
            if bind:
                _bind_device(sys, rootfs, host, path)
                continue
            create_mount_target(rootfs, os.path.dirname(host), True)
            try:
                os.unlink(host)
            except FileNotFoundError:
                pass
            except IsADirectoryError:
                raise ConfigError(f"device path {path} is a directory in the root filesystem") from None
            try:
                sys.mknod(host, _TYPES[kind] | (mode & 0o7777), os.makedev(major, minor))
            except OSError as exc:
                raise RuntimeFailure(f"creating device {path} ({kind} {major}:{minor}) failed: {exc.strerror}",
                                     step="devices", errno=exc.errno or 0) from exc
            if uid is not None and gid is not None:
                sys.chown(host, uid, gid)
    finally:
        os.umask(old)


def _int(value: object) -> int:
    return value if isinstance(value, int) else 0


def _bind_device(sys: System, rootfs: str, host: str, path: str) -> None:
    if not os.path.exists(path):
        return
    create_mount_target(rootfs, host, False)
    fd = open_in_root(rootfs, host)
    try:
        sys.mount(path, f"/proc/self/fd/{fd}", None, c.MS_BIND)
    finally:
        os.close(fd)


def create_links(rootfs: str, with_ptmx: bool) -> None:
    """/dev/fd, /dev/std{in,out,err}, and /dev/ptmx -> pts/ptmx when /dev/pts is a new devpts."""
    links = list(LINKS)
    if with_ptmx:
        links.append(("pts/ptmx", "/dev/ptmx"))
    for target, path in links:
        host = resolve_in_root(rootfs, path)
        try:
            os.unlink(host)
        except FileNotFoundError:
            pass
        except (IsADirectoryError, PermissionError):
            continue
        try:
            os.symlink(target, host)
        except FileExistsError:
            pass


def check_dev_null(path: str = "/dev/null") -> None:
    """The source of masked paths must be the real null device (char 1:3), not something in the image."""
    st = os.lstat(path)
    if not stat.S_ISCHR(st.st_mode) or os.major(st.st_rdev) != 1 or os.minor(st.st_rdev) != 3:
        raise RuntimeFailure(f"{path} in the container is not the null device (char 1:3): refusing to mask paths with it",
                             step="maskedPaths")
