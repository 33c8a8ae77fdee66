"""The cgroup-manager interface and the file helpers shared by the v1 and v2 managers.

Standard library only, and nothing heavy at import: this module is on the ``pallet-runtime run``
path.  Every write goes through :func:`write`, which turns an OSError into a RuntimeFailure naming
the file and the value.
"""

from __future__ import annotations

import errno
import os
import posixpath
import sys
import time

from pallet.errors import ConfigError, ConflictError, RuntimeFailure

TYPE_CHECKING = False

if TYPE_CHECKING:
    from pallet.runtime.cgroups.stats import CgroupStats


# The manager has a method named set: these keep the builtin reachable in annotations.
_StrSet = set[str]
_IntSet = set[int]


def cgroup_path(cgroups_path: str | None, container_id: str) -> str:
    """The container's cgroup, relative to each hierarchy's root, as an absolute path ("/a/b").

    ``cgroups_path`` is linux.cgroupsPath of the OCI spec for cgroupfs: an absolute path is taken
    under each hierarchy's root; a relative one is taken under the root too (never under the
    runtime's own cgroup); None or "" gives "/pallet/<id>".  The systemd form (slice:prefix:name)
    is refused: pallet manages cgroups through the filesystem.
    """
    if not cgroups_path:
        if not container_id or "/" in container_id:
            raise ConfigError(f"container id {container_id!r} cannot name a cgroup")
        return f"/pallet/{container_id}"
    if ":" in cgroups_path and not cgroups_path.startswith("/"):
        raise ConfigError(
            f"linux.cgroupsPath {cgroups_path!r} is in the systemd form (slice:prefix:name); "
            "pallet uses the cgroupfs form: a path such as /pallet/<id>"
        )
    path = posixpath.normpath("/" + cgroups_path.lstrip("/"))
    if path == "/":
        raise ConfigError(f"linux.cgroupsPath {cgroups_path!r} names the root cgroup; give a path below it")
    return path


def warn(message: str) -> None:
    sys.stderr.write(f"pallet-runtime: warning: {message}\n")


def write(path: str, value: str) -> None:
    """Write ``value`` to the cgroup file ``path`` in one write()."""
    data = value.encode()
    try:
        fd = os.open(path, os.O_WRONLY | os.O_TRUNC | os.O_CLOEXEC)
        try:
            os.write(fd, data)
        finally:
            os.close(fd)
    except OSError as e:
        hint = ""
        if e.errno == errno.EPERM:
            hint = " (the host does not allow it: a capability such as CAP_SYS_RESOURCE may be missing)"
        raise RuntimeFailure(
            f"cgroups: cannot write {value!r} to {path}: {os.strerror(e.errno or 0)}{hint}",
            step="cgroups",
            errno=e.errno or 0,
        ) from None


def read(path: str) -> str:
    with open(path) as f:
        return f.read()


def read_or(path: str, default: str = "") -> str:
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return default


def read_procs(directory: str, recursive: bool = True) -> list[int]:
    """The pids in ``cgroup.procs`` of ``directory`` (and of every cgroup below it)."""
    out: list[int] = []
    dirs = [directory]
    while dirs:
        d = dirs.pop()
        try:
            with open(os.path.join(d, "cgroup.procs")) as f:
                out.extend(int(x) for x in f.read().split())
        except FileNotFoundError:
            continue
        if recursive:
            try:
                dirs.extend(e.path for e in os.scandir(d) if e.is_dir(follow_symlinks=False))
            except OSError:
                pass
    return sorted(set(out))


def make_dirs(mount: str, path: str) -> list[str]:
    """mkdir every missing level of ``path`` under ``mount``; return the directories made, top first."""
    made: list[str] = []
    cur = mount
    for part in path.strip("/").split("/"):
        cur = os.path.join(cur, part)
        try:
            os.mkdir(cur, 0o755)
            made.append(cur)
        except FileExistsError:
            continue
        except OSError as e:
            raise RuntimeFailure(
                f"cgroups: cannot create cgroup {cur}: {os.strerror(e.errno or 0)}", step="cgroups",
                errno=e.errno or 0,
            ) from None
    return made


def remove_tree(directory: str, timeout: float = 5.0) -> None:
    """rmdir ``directory`` and every cgroup below it, deepest first (retrying while tasks exit)."""
    try:
        os.rmdir(directory)  # the usual case: a leaf, empty (its control files do not count)
        return
    except FileNotFoundError:
        return
    except OSError:
        pass  # cgroups below it, or tasks still leaving: walk
    if not os.path.isdir(directory):
        return
    for dirpath, _dirs, _files in sorted(os.walk(directory), key=lambda t: -t[0].count("/")):
        deadline = time.monotonic() + timeout
        delay = 0.001
        while True:
            try:
                os.rmdir(dirpath)
                break
            except FileNotFoundError:
                break
            except OSError as e:
                if e.errno != errno.EBUSY or time.monotonic() > deadline:
                    raise RuntimeFailure(
                        f"cgroups: cannot remove cgroup {dirpath}: {os.strerror(e.errno or 0)}"
                        f" (processes left: {read_procs(dirpath, recursive=False)})",
                        step="cgroups", errno=e.errno or 0,
                    ) from None
                time.sleep(delay)
                delay = min(delay * 2, 0.05)


def remove_if_empty(directory: str) -> None:
    """rmdir a cgroup that pallet made above a container's own, if nothing else uses it now."""
    try:
        os.rmdir(directory)
    except OSError:
        pass


def nearest_text(mount: str, path: str, names: tuple[str, ...]) -> str | None:
    """The first of ``names`` readable in the cgroup ``path`` or its nearest existing ancestor."""
    rel = path.strip("/")
    while True:
        d = os.path.join(mount, rel) if rel else mount
        for name in names:
            try:
                with open(os.path.join(d, name)) as f:
                    return f.read().strip()
            except OSError:
                continue
        if not rel:
            return None
        rel = posixpath.dirname(rel)


def refuse_busy(directory: str, frozen: bool) -> None:
    """Refuse to reuse an existing cgroup that has processes or is frozen."""
    procs = read_procs(directory)
    if procs:
        shown = ", ".join(str(p) for p in procs[:10])
        raise ConflictError(
            f"cgroup {directory} already exists and has processes ({shown}): "
            "another container uses it; choose another linux.cgroupsPath or delete that container"
        )
    if frozen:
        raise ConflictError(
            f"cgroup {directory} already exists and is frozen: thaw or remove it, or choose another "
            "linux.cgroupsPath"
        )


def wait_empty(pids_fn: object, timeout: float) -> bool:
    """Poll ``pids_fn()`` until it returns nothing or ``timeout`` passes; True if empty."""
    deadline = time.monotonic() + timeout
    delay = 0.001
    while True:
        if not pids_fn():  # type: ignore[operator]
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(delay)
        delay = min(delay * 2, 0.05)


def join_self_v1(directories: list[str]) -> None:
    """Move the calling process into each v1 cgroup in ``directories`` by writing "0" to tasks.

    A thread moving itself is the one migration the kernel makes without its global threadgroup
    lock (whose first taker waits for an RCU grace period: 5-20 ms here).  For a single-threaded
    process (a freshly forked child) the thread is the whole process, and the children it forks
    afterwards are born in these cgroups.
    """
    for d in directories:
        write(os.path.join(d, "tasks"), "0")


class CgroupManager:
    """One container's cgroup in every hierarchy of the host (see the v1 and v2 implementations)."""

    version: int = 0
    # True where the runtime's processes join the cgroup themselves (join_self) instead of being
    # added by pid: a pure v1 host.  Where a unified hierarchy exists, a pid must be written there
    # (a thread may not move itself across domains), that write holds the kernel's cgroup mutex
    # through its grace period, and a child's own moves would only queue behind it: the parent
    # adds the pids, while the intermediate goes on with the namespaces.
    self_joins: bool = False

    def __init__(self, root: str, path: str) -> None:
        self.root = root
        self.path = path  # the container's cgroup relative to each hierarchy root: "/pallet/<id>"
        self.created: list[str] = []  # directories create() made (top first)
        self.warnings: list[str] = []

    def _warn(self, message: str) -> None:
        self.warnings.append(message)
        warn(message)

    # --- interface -------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, object]:
        raise NotImplementedError

    def paths(self) -> dict[str, str]:
        raise NotImplementedError

    def check(self, resources: dict[str, object] | None) -> None:
        from pallet.runtime.cgroups.check import check_resources

        check_resources(self, resources)

    def available(self) -> _StrSet:
        """Controllers this manager can use on the host (for check())."""
        raise NotImplementedError

    def create(self) -> None:
        raise NotImplementedError

    def add(self, pid: int) -> None:
        raise NotImplementedError

    def join_self(self) -> None:
        """Move the calling single-threaded process into the cgroup without the kernel's global
        lock (where self_joins; see join_self_v1)."""
        raise NotImplementedError

    def for_resources(self, resources: dict[str, object] | None) -> None:
        """Leave out, before create(), the hierarchies that a container with these limits does
        not need (the unified tree of a hybrid host; see V1Manager)."""

    def set(self, resources: dict[str, object] | None) -> None:
        raise NotImplementedError

    def pids(self) -> list[int]:
        raise NotImplementedError

    def signal_all(self, sig: int) -> None:
        raise NotImplementedError

    def freeze(self) -> None:
        raise NotImplementedError

    def thaw(self) -> None:
        raise NotImplementedError

    def is_frozen(self) -> bool:
        raise NotImplementedError

    def stats(self) -> CgroupStats:
        raise NotImplementedError

    def oom_kill_count(self) -> int:
        raise NotImplementedError

    def destroy(self) -> None:
        raise NotImplementedError

    def exists(self) -> bool:
        return any(os.path.isdir(p) for p in self.paths().values())

    # --- facts of the host, for check() ----------------------------------------------------------
    def mode(self) -> str:
        raise NotImplementedError

    def has_swap_accounting(self) -> bool:
        raise NotImplementedError

    def has_realtime(self) -> bool:
        return False

    def unified_dir(self) -> str | None:
        """The container's cgroup in the cgroup2 hierarchy, if the host has one (whether or not
        the container joined it)."""
        return None

    def unified_controllers(self) -> _StrSet:
        return set()

    def _cpuset_text(self, names: tuple[str, ...]) -> str | None:
        raise NotImplementedError

    def host_cpus(self) -> _IntSet:
        """The CPUs a cgroup here may use (the parent's effective cpuset, or every online CPU)."""
        from pallet.runtime.cgroups.convert import parse_list

        text = self._cpuset_text(("cpuset.effective_cpus", "cpuset.cpus.effective"))
        if not text:
            text = read_or("/sys/devices/system/cpu/online", "")
        return parse_list(text)

    def host_mems(self) -> _IntSet:
        from pallet.runtime.cgroups.convert import parse_list

        text = self._cpuset_text(("cpuset.effective_mems", "cpuset.mems.effective"))
        if not text:
            text = read_or("/sys/devices/system/node/online", "0")
        return parse_list(text)

    # --- shared helpers --------------------------------------------------------------------------
    def _signal_pids(self, sig: int) -> None:
        for pid in self.pids():
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass

    def _signal_frozen(self, sig: int) -> None:
        """Signal every process with the cgroup frozen, so that none forks past the signal."""
        was_frozen = self.is_frozen()
        if not was_frozen:
            try:
                self.freeze()
            except RuntimeFailure:
                was_frozen = True  # could not freeze: signal anyway, leave the state alone
        try:
            self._signal_pids(sig)
        finally:
            if not was_frozen:
                self.thaw()

    def _kill_and_wait(self, timeout: float = 5.0) -> None:
        """SIGKILL until the cgroup is empty (a fork bomb forks while it is being killed)."""
        import signal

        deadline = time.monotonic() + timeout
        while self.pids():
            self._signal_frozen(signal.SIGKILL)
            if wait_empty(self.pids, 0.2) or time.monotonic() > deadline:
                break
