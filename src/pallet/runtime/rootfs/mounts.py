"""The mounts of config.json, made inside the container's root filesystem before pivot_root.

Every destination is resolved inside the rootfs (pallet.runtime.rootfs.paths), created if needed,
opened with O_PATH and checked, and the mount is made onto /proc/self/fd/N of that descriptor, so
that a symlink in the image cannot send a mount outside the rootfs.
"""

from __future__ import annotations

import os
import stat

from pallet._linux import consts as c
from pallet.errors import ConfigError, RuntimeFailure
from pallet.oci.mountopts import parse_mount_options
from pallet.runtime.rootfs.paths import create_mount_target, open_in_root, resolve_in_root

TYPE_CHECKING = False

if TYPE_CHECKING:
    from collections.abc import Callable

    from pallet._linux.system import System

# statvfs f_flag bits that a bind remount must keep when it may not clear them
_ST_LOCKED = {1: c.MS_RDONLY, 2: c.MS_NOSUID, 4: c.MS_NODEV, 8: c.MS_NOEXEC}
_ST_ATIME = {1024: c.MS_NOATIME, 2048: c.MS_NODIRATIME, 4096: c.MS_RELATIME}

PROPAGATION = {
    "": c.MS_SLAVE | c.MS_REC,
    "private": c.MS_PRIVATE,
    "rprivate": c.MS_PRIVATE | c.MS_REC,
    "shared": c.MS_SHARED,
    "rshared": c.MS_SHARED | c.MS_REC,
    "slave": c.MS_SLAVE,
    "rslave": c.MS_SLAVE | c.MS_REC,
    "unbindable": c.MS_UNBINDABLE,
    "runbindable": c.MS_UNBINDABLE | c.MS_REC,
}


class MountContext:
    """What the mount code needs to know beyond the mounts themselves."""

    def __init__(
        self,
        *,
        new_cgroupns: bool = False,
        new_netns: bool = True,
        new_ipcns: bool = True,
        in_userns: bool = False,
        cgroup_paths: dict[str, str] | None = None,
        mount_label: str | None = None,
        idmap_fds: dict[int, int] | None = None,
        before_cgroup: Callable[[], None] | None = None,
    ) -> None:
        self.new_cgroupns = new_cgroupns
        self.new_netns = new_netns
        self.new_ipcns = new_ipcns
        self.in_userns = in_userns
        self.cgroup_paths = cgroup_paths or {}
        self.mount_label = mount_label
        self.idmap_fds = idmap_fds or {}
        # called before the first cgroup mount (the init waits there to be in its cgroup)
        self.before_cgroup = before_cgroup
        # mount_all leaves the cgroup mounts for mount_deferred (see process.setup.waits_late)
        self.defer_cgroup = False
        self.deferred: list[tuple[str, str, int]] = []  # (where, destination, flags)
        self.hierarchies: list[tuple[str, str, str]] | None = None  # the host's, read before pivot_root


def statvfs_flags(path: str) -> int:
    """The MS_* flags of the mount holding ``path`` that a bind remount has to carry over."""
    try:
        f = os.statvfs(path).f_flag
    except OSError:
        return 0
    out = 0
    for bit, flag in (*_ST_LOCKED.items(), *_ST_ATIME.items()):
        if f & bit:
            out |= flag
    return out


def prepare_root(sys: System, rootfs: str, propagation: str | None) -> None:
    """Make the mount tree private to the container and bind the rootfs onto itself."""
    flags = PROPAGATION.get(propagation or "")
    if flags is None:
        raise ConfigError(f"linux.rootfsPropagation {propagation!r} is not a propagation type")
    sys.mount(None, "/", None, flags)
    # pivot_root needs the rootfs to be a mount point, and its parent mount must not be shared.
    sys.mount(rootfs, rootfs, None, c.MS_BIND | c.MS_REC)
    _make_parent_private(sys, rootfs)


def _make_parent_private(sys: System, rootfs: str) -> None:
    """pivot_root fails when the new root's parent mount is shared: make it private (ours only)."""
    mountpoint = _mountpoint_of(os.path.dirname(rootfs))
    if mountpoint is not None:
        try:
            sys.mount(None, mountpoint, None, c.MS_PRIVATE)
        except OSError:
            pass


def _mountpoint_of(path: str) -> str | None:
    best: str | None = None
    try:
        with open("/proc/self/mountinfo", "rb") as f:
            for line in f:
                mp = line.split(b" ", 5)[4].decode()
                mp = mp.replace("\\040", " ")
                if (path == mp or path.startswith(mp.rstrip("/") + "/")) and (best is None or len(mp) > len(best)):
                    best = mp
    except OSError:
        return None
    return best


def mount_all(sys: System, rootfs: str, mounts: list[dict[str, object]], ctx: MountContext) -> None:
    for i, m in enumerate(mounts):
        mount_one(sys, rootfs, m, f"mounts[{i}]", ctx, ctx.idmap_fds.get(i, -1))


def _target_fd(rootfs: str, dest: str, is_dir: bool) -> tuple[int, str]:
    host = resolve_in_root(rootfs, dest)
    create_mount_target(rootfs, host, is_dir)
    fd = open_in_root(rootfs, host)
    return fd, host


def _reopen(rootfs: str, dest: str) -> int:
    """The destination again, now that something is mounted on it (the old fd names what is under
    the mount).  Only opened with O_PATH: the container's root may not be allowed to write there."""
    return open_in_root(rootfs, resolve_in_root(rootfs, dest))


def mount_one(sys: System, rootfs: str, m: dict[str, object], where: str, ctx: MountContext,
              idmapped: int = -1) -> None:
    dest = str(m.get("destination", ""))
    mtype = str(m.get("type") or "")
    source = str(m.get("source") or "")
    raw_options = m.get("options") or []
    assert isinstance(raw_options, list)
    opts = parse_mount_options(raw_options, f"{where}.options")
    if mtype in ("proc", "sysfs"):
        # A symlink here could send /proc over some other directory of the image; refuse it.
        unresolved = os.path.join(rootfs, dest.lstrip("/"))
        if os.path.islink(unresolved):
            raise ConfigError(
                f"{where}.destination {dest} is a symlink in the root filesystem "
                f"(to {os.readlink(unresolved)!r}): refusing to mount {mtype} there"
            )
    if mtype in ("cgroup", "cgroup2"):
        if ctx.defer_cgroup:
            if ctx.hierarchies is None:
                ctx.hierarchies = cgroup_hierarchies()
            ctx.deferred.append((where, dest, opts.flags))
            return
        _mount_cgroup(sys, rootfs, dest, opts.flags, ctx, where)
        return
    if opts.bind or mtype == "bind":
        _mount_bind(sys, rootfs, dest, source, opts, where, idmapped)
        return
    data = opts.data
    if ctx.mount_label and mtype in ("tmpfs", "mqueue", "devpts", "shm"):
        data = f"{data},context=\"{ctx.mount_label}\"" if data else f"context=\"{ctx.mount_label}\""
    fd, host = _target_fd(rootfs, dest, True)
    try:
        target = f"/proc/self/fd/{fd}"
        flags = opts.flags & ~c.MS_REMOUNT
        try:
            if "tmpcopyup" in opts.extensions:
                _tmpfs_copyup(sys, host, target, source or "tmpfs", flags, data)
            else:
                sys.mount(source or mtype, target, mtype, flags, data or None)
        except OSError as exc:
            if mtype == "sysfs" and exc.errno == 1 and not ctx.new_netns:
                # sysfs can only be mounted by the owner of the network namespace: bind the host's.
                sys.mount("/sys", target, None, c.MS_BIND | c.MS_REC)
                sys.mount(None, target, None, c.MS_BIND | c.MS_REMOUNT | c.MS_RDONLY | c.MS_NOSUID | c.MS_NODEV | c.MS_NOEXEC)
            elif mtype == "mqueue" and exc.errno in (1, 22) and not ctx.new_ipcns:
                sys.mount("/dev/mqueue", target, None, c.MS_BIND | c.MS_REC)
            else:
                raise RuntimeFailure(
                    f"{where}: mounting {mtype} {source!r} on {dest} failed: {exc.strerror or exc}",
                    step="mount", errno=exc.errno or 0,
                ) from exc
        if opts.propagation:
            os.close(fd)
            fd = -1
            fd = _reopen(rootfs, dest)
            target = f"/proc/self/fd/{fd}"
            for prop in opts.propagation:
                sys.mount(None, target, None, prop)
    finally:
        if fd >= 0:
            os.close(fd)


def _mount_bind(sys: System, rootfs: str, dest: str, source: str, opts: object, where: str,
                idmapped: int = -1) -> None:
    from pallet.oci.mountopts import MountOptions

    assert isinstance(opts, MountOptions)
    if not source:
        raise ConfigError(f"{where}.source is required for a bind mount of {dest}")
    try:
        # a source prepared by the parent is known by its fd (the container's root may not reach it)
        st = os.fstat(idmapped) if idmapped >= 0 else os.stat(source)
    except FileNotFoundError:
        raise ConfigError(f"{where}.source {source!r} does not exist (bind mount on {dest})") from None
    fd, _host = _target_fd(rootfs, dest, stat.S_ISDIR(st.st_mode))
    try:
        target = f"/proc/self/fd/{fd}"
        flags = c.MS_BIND | (opts.flags & c.MS_REC)
        try:
            if idmapped >= 0:
                # made by the runtime's parent (pallet.runtime.rootfs.sources): move it into place
                from pallet._linux.mount import move_mount

                # onto the verified fd itself (move_mount does not take a /proc/self/fd path)
                move_mount(idmapped, "", fd, "", c.MOVE_MOUNT_F_EMPTY_PATH | c.MOVE_MOUNT_T_EMPTY_PATH)
            elif opts.extensions & {"idmap", "ridmap"}:
                raise ConfigError(f"{where}: an idmapped mount of {source!r} was asked for but not prepared")
            else:
                sys.mount(source, target, None, flags)
        except OSError as exc:
            raise RuntimeFailure(
                f"{where}: bind mount of {source!r} on {dest} failed: {exc.strerror or exc}", step="mount",
                errno=exc.errno or 0,
            ) from exc
        extra = opts.flags & ~(c.MS_BIND | c.MS_REC | c.MS_REMOUNT)
        # The fd still names the directory under the new mount: reopen it to reach the mount itself.
        os.close(fd)
        fd = -1
        fd = _reopen(rootfs, dest)
        target = f"/proc/self/fd/{fd}"
        if extra or opts.clear:
            # A bind mount takes its flags only from a remount.
            remount = c.MS_BIND | c.MS_REMOUNT | extra
            try:
                sys.mount(None, target, None, remount)
            except PermissionError:
                # Flags locked on the source mount (in a user namespace) must be kept.
                sys.mount(None, target, None, remount | statvfs_flags(f"/proc/self/fd/{fd}"))
        if opts.attr_set or opts.attr_clr:
            from pallet._linux.mount import mount_setattr

            mount_setattr(fd, "", c.AT_EMPTY_PATH | c.AT_RECURSIVE, opts.attr_set, opts.attr_clr)
        for prop in opts.propagation:
            sys.mount(None, target, None, prop)
    finally:
        if fd >= 0:
            os.close(fd)


def _tmpfs_copyup(sys: System, host: str, target: str, source: str, flags: int, data: str) -> None:
    """Mount a tmpfs holding a copy of what the image has at that place (option tmpcopyup)."""
    import shutil
    import tempfile

    tmp = tempfile.mkdtemp(prefix="pallet-copyup-")
    try:
        sys.mount(source, tmp, "tmpfs", flags, data or None)
        try:
            for name in os.listdir(host):
                src = os.path.join(host, name)
                dst = os.path.join(tmp, name)
                if os.path.isdir(src) and not os.path.islink(src):
                    shutil.copytree(src, dst, symlinks=True)
                else:
                    shutil.copy2(src, dst, follow_symlinks=False)
            shutil.copystat(host, tmp)
            sys.mount(tmp, target, None, c.MS_MOVE)
        except BaseException:
            sys.umount2(tmp, c.MNT_DETACH)
            raise
    finally:
        os.rmdir(tmp)


def cgroup_hierarchies() -> list[tuple[str, str, str]]:
    """(mount point, fstype, super options) of every cgroup hierarchy mounted in this namespace."""
    out: list[tuple[str, str, str]] = []
    seen: set[str] = set()
    with open("/proc/self/mountinfo") as f:
        for line in f:
            left, _, right = line.partition(" - ")
            fields = right.split()
            if len(fields) < 3 or fields[0] not in ("cgroup", "cgroup2"):
                continue
            mp = left.split()[4]
            if mp in seen:
                continue
            seen.add(mp)
            out.append((mp, fields[0], fields[2]))
    return out


def mount_deferred(sys: System, ctx: MountContext) -> None:
    """The cgroup mounts mount_all left (``ctx.defer_cgroup``), made now inside the container's root."""
    for where, dest, flags in ctx.deferred:
        _mount_cgroup(sys, "/", dest, flags, ctx, where)
    ctx.deferred = []


def _mount_cgroup(sys: System, rootfs: str, dest: str, flags: int, ctx: MountContext, where: str) -> None:
    """Give the container its cgroups at ``dest``: real cgroup mounts in a cgroup namespace, else binds."""
    if ctx.before_cgroup is not None:
        ctx.before_cgroup()
    ro = flags & c.MS_RDONLY
    base = c.MS_NOSUID | c.MS_NODEV | c.MS_NOEXEC
    hierarchies = ctx.hierarchies if ctx.hierarchies is not None else cgroup_hierarchies()
    unified_only = len(hierarchies) == 1 and hierarchies[0][1] == "cgroup2"
    fd, host = _target_fd(rootfs, dest, True)
    try:
        target = f"/proc/self/fd/{fd}"
        if unified_only:
            if ctx.new_cgroupns:
                sys.mount("cgroup2", target, "cgroup2", base | ro)
            else:
                path = ctx.cgroup_paths.get("") or next(iter(ctx.cgroup_paths.values()), "")
                if path:
                    sys.mount(path, target, None, c.MS_BIND | c.MS_REC)
                    sys.mount(None, target, None, c.MS_BIND | c.MS_REMOUNT | base | ro)
            return
        sys.mount("tmpfs", target, "tmpfs", base, "mode=755")
    finally:
        os.close(fd)
    for mp, fstype, superopts in hierarchies:
        # Only the hierarchies the container is in: in another one (a hybrid host's cgroup2 tree
        # when it has no limits there, name=systemd) its cgroup namespace would be rooted at the
        # runtime's own cgroup, and show the host's tree from there.
        own = [p for p in ctx.cgroup_paths.values() if p.startswith(mp.rstrip("/") + "/")]
        if ctx.cgroup_paths and not own:
            continue
        name = os.path.basename(mp)
        sub = os.path.join(host, name)
        os.makedirs(sub, exist_ok=True)
        if ctx.new_cgroupns:
            if fstype == "cgroup2":
                data = None
            else:
                words = [w for w in superopts.split(",") if w not in ("rw", "ro")]
                data = ",".join(words)
            try:
                sys.mount("cgroup", sub, fstype, base | ro, data)
            except OSError as exc:
                raise RuntimeFailure(f"{where}: mounting cgroup hierarchy {name} failed: {exc.strerror}", step="mount",
                                     errno=exc.errno or 0) from exc
        else:
            src = own[0] if own else None
            if src is None:
                continue
            sys.mount(src, sub, None, c.MS_BIND | c.MS_REC)
            sys.mount(None, sub, None, c.MS_BIND | c.MS_REMOUNT | base | ro)
    if ro:
        sys.mount(None, host, None, c.MS_REMOUNT | base | c.MS_RDONLY, "mode=755")
