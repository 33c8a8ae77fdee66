"""The cgroup v1 manager: one directory per hierarchy, plus the cgroup2 tree of a hybrid host.

On a hybrid host the container also gets a cgroup in the unified hierarchy when something uses it:
systemd, as the host's init, tracking processes there; hugepage limits while the host binds hugetlb
there rather than on v1; linux.resources.unified keys (``for_resources``).  Moving a process into a
cgroup2 cgroup takes the kernel's global threadgroup lock (an RCU grace period, 5-20 ms on every
start), while a v1 join made by the process itself takes none (``join_self``); a container that
joined the unified tree also gets cgroup.kill there (one write kills everything; the others are
killed with the freezer, fork bombs included, as on a pure v1 host).
"""

from __future__ import annotations

import errno
import os
import time

from pallet.errors import RuntimeFailure
from pallet.runtime.cgroups.base import (
    CgroupManager,
    _StrSet,
    join_self_v1,
    make_dirs,
    read_or,
    read_procs,
    refuse_busy,
    remove_if_empty,
    remove_tree,
    write,
)
from pallet.runtime.cgroups.detect import unified_controllers

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from pallet.runtime.cgroups.stats import CgroupStats

_SYSTEMD = "name=systemd"
# Where pids() and the freezer look, in order of preference.
_PROCS_FROM = ("pids", "freezer", "devices", "memory", "cpu", "cpuacct", "blkio", "cpuset")


class V1Manager(CgroupManager):
    """A container's cgroup in each v1 hierarchy (and the unified one of a hybrid host)."""

    version = 1

    def __init__(self, root: str, path: str, v1: dict[str, str], unified: str | None, *,
                 join_unified: bool = True, systemd: str | None = None) -> None:
        super().__init__(root, path)
        self.v1 = v1  # controller (or "name=systemd", where joined) -> hierarchy mount directory
        self.unified = unified  # cgroup2 mount directory of a hybrid host
        self.systemd = systemd  # the host's name=systemd hierarchy, joined where systemd is the init
        self.rel = path.lstrip("/")
        self.dirs = {c: os.path.join(m, self.rel) for c, m in v1.items()}
        # The container's cgroup in the unified tree: only where it needs one (see for_resources)
        self.udir = os.path.join(unified, self.rel) if unified and join_unified else None
        self.enabled: list[list[str]] = []

    def to_dict(self) -> dict[str, object]:
        return {"version": 1, "root": self.root, "path": self.path, "v1": self.v1,
                "unified": self.unified, "join_unified": self.udir is not None,
                "created": self.created, "enabled": self.enabled}

    @classmethod
    def from_dict(cls, saved: dict[str, Any]) -> V1Manager:
        m = cls(saved["root"], saved["path"], dict(saved.get("v1") or {}), saved.get("unified"),
                join_unified=bool(saved.get("join_unified", True)))
        m.created = list(saved.get("created") or [])
        m.enabled = [list(x) for x in saved.get("enabled") or []]
        return m

    def paths(self) -> dict[str, str]:
        out = dict(self.dirs)
        if self.udir:
            out[""] = self.udir
        return out

    def _unique_dirs(self) -> list[str]:
        seen: list[str] = []
        for d in self.dirs.values():
            if d not in seen:
                seen.append(d)
        if self.udir:
            seen.append(self.udir)
        return seen

    def mode(self) -> str:
        return "hybrid" if self.unified else "v1"

    def available(self) -> _StrSet:
        out = {c for c in self.v1 if c != _SYSTEMD}
        if self.unified and "hugetlb" in unified_controllers(self.unified):
            out.add("hugetlb")
        return out

    def for_resources(self, resources: dict[str, Any] | None) -> None:
        """Join the unified tree of a hybrid host where systemd is the host's init (in hybrid mode
        it tracks every process by its cgroup there: a container left in its caller's cgroup would
        go with the caller's unit), or for limits that live there: hugepage limits while hugetlb is
        bound to cgroup2 (and not mounted on v1), or unified keys.  Elsewhere nothing uses the
        container's place in that tree, and moving it there costs an RCU grace period."""
        from pallet.runtime.cgroups.detect import systemd_booted

        r = resources or {}
        needed = bool(r.get("unified")) or (
            bool(r.get("hugepageLimits")) and "hugetlb" not in self.v1 and "hugetlb" in self.unified_controllers())
        booted = bool(self.unified or self.systemd) and systemd_booted()
        self.udir = os.path.join(self.unified, self.rel) if self.unified and (needed or booted) else None
        if self.systemd and booted:
            # Its name=systemd hierarchy too (systemd's tracking on a legacy v1 host; kept beside the
            # cgroup2 tree by a hybrid one), as runc does: joined like the controllers, by the
            # process itself.
            self.v1[_SYSTEMD] = self.systemd
            self.dirs[_SYSTEMD] = os.path.join(self.systemd, self.rel)

    def unified_dir(self) -> str | None:
        return self.unified and os.path.join(self.unified, self.rel)

    def unified_controllers(self) -> _StrSet:
        return unified_controllers(self.unified) if self.unified else set()

    def has_swap_accounting(self) -> bool:
        mount = self.v1.get("memory")
        return bool(mount) and os.path.exists(os.path.join(mount, "memory.memsw.limit_in_bytes"))  # type: ignore[arg-type]

    def has_realtime(self) -> bool:
        mount = self.v1.get("cpu")
        return bool(mount) and os.path.exists(os.path.join(mount, "cpu.rt_runtime_us"))  # type: ignore[arg-type]

    def _cpuset_text(self, names: tuple[str, ...]) -> str | None:
        from pallet.runtime.cgroups.base import nearest_text

        mount = self.v1.get("cpuset")
        return nearest_text(mount, self.path, names) if mount else None

    def dir(self, controller: str) -> str | None:
        return self.dirs.get(controller)

    # --- lifecycle -------------------------------------------------------------------------------
    def create(self) -> None:
        leaf_dirs = self._unique_dirs()
        if any(os.path.isdir(d) for d in leaf_dirs):
            fz = self.dirs.get("freezer")
            frozen = bool(fz) and read_or(os.path.join(fz, "freezer.state")).strip() in ("FROZEN", "FREEZING")  # type: ignore[arg-type]
            for d in leaf_dirs:
                if os.path.isdir(d):
                    refuse_busy(d, frozen)
        made: list[str] = []
        try:
            mounts = list(dict.fromkeys(self.v1.values()))
            for mount in mounts:
                made += make_dirs(mount, self.path)
            if self.udir and self.unified:
                made += make_dirs(self.unified, self.path)
            cs = self.v1.get("cpuset")
            if cs:
                self._init_cpuset(cs)
        except Exception:
            for d in reversed(made):
                remove_if_empty(d)
            raise
        self.created = made

    def _init_cpuset(self, mount: str) -> None:
        """A new v1 cpuset cgroup has no CPUs and no memory nodes: copy its parent's, top down."""
        rel = ""
        parent = mount
        for part in self.path.strip("/").split("/"):
            rel = os.path.join(rel, part)
            d = os.path.join(mount, rel)
            for name in ("cpuset.cpus", "cpuset.mems"):
                if not read_or(os.path.join(d, name)).strip():
                    write(os.path.join(d, name), read_or(os.path.join(parent, name)).strip() or "\n")
            parent = d

    @property
    def self_joins(self) -> bool:  # type: ignore[override]
        return self.udir is None

    def add(self, pid: int) -> None:
        for d in self._unique_dirs():
            write(os.path.join(d, "cgroup.procs"), str(pid))

    def join_self(self) -> None:
        join_self_v1([d for d in self._unique_dirs() if d != self.udir])

    def set(self, resources: dict[str, Any] | None) -> None:
        if not resources:
            return
        from pallet.runtime.cgroups.v1_set import apply

        apply(self, resources)

    def hugetlb_dir(self) -> str | None:
        """Where hugetlb limits go now: its v1 hierarchy, or the unified tree when bound there."""
        d = self.dirs.get("hugetlb")
        if d and os.path.isdir(d):
            return d
        if self.unified and self.udir and "hugetlb" in unified_controllers(self.unified):
            if "hugetlb" not in read_or(os.path.join(self.udir, "cgroup.controllers")).split():
                from pallet.runtime.cgroups.v2 import enable_controllers

                self.enabled += enable_controllers(self.unified, self.path, {"hugetlb"}, root_too=True)
            return self.udir
        return None

    def pids(self) -> list[int]:
        for c in _PROCS_FROM:
            d = self.dirs.get(c)
            if d:
                return read_procs(d)
        return read_procs(self.udir) if self.udir else []

    def signal_all(self, sig: int) -> None:
        import signal

        if sig == signal.SIGKILL and self.udir and os.path.exists(os.path.join(self.udir, "cgroup.kill")):
            write(os.path.join(self.udir, "cgroup.kill"), "1")
            return
        self._signal_frozen(sig)

    def _freezer(self) -> tuple[str, bool]:
        d = self.dirs.get("freezer")
        if d:
            return d, True
        if self.udir:
            return self.udir, False
        raise RuntimeFailure("cgroups: this host has no freezer (neither v1 freezer nor cgroup2)", step="cgroups")

    def freeze(self) -> None:
        d, v1 = self._freezer()
        if not v1:
            from pallet.runtime.cgroups.v2 import freeze_dir

            freeze_dir(d, True)
            return
        state = os.path.join(d, "freezer.state")
        deadline = time.monotonic() + 5.0
        delay = 0.0005
        while True:
            # Writing FROZEN again pushes the freeze through tasks that forked meanwhile.
            write(state, "FROZEN")
            if read_or(state).strip() == "FROZEN":
                return
            if time.monotonic() > deadline:
                write(state, "THAWED")
                raise RuntimeFailure(f"cgroups: {d} did not freeze within 5 s", step="cgroups", errno=errno.EBUSY)
            time.sleep(delay)
            delay = min(delay * 2, 0.02)

    def thaw(self) -> None:
        d, v1 = self._freezer()
        if not v1:
            from pallet.runtime.cgroups.v2 import freeze_dir

            freeze_dir(d, False)
            return
        write(os.path.join(d, "freezer.state"), "THAWED")

    def is_frozen(self) -> bool:
        d, v1 = self._freezer()
        if v1:
            return read_or(os.path.join(d, "freezer.state")).strip() == "FROZEN"
        return read_or(os.path.join(d, "cgroup.freeze")).strip() == "1"

    def stats(self) -> CgroupStats:
        from pallet.runtime.cgroups.stats import stats_v1

        return stats_v1(self.dirs, self.hugetlb_stats_dir())

    def hugetlb_stats_dir(self) -> tuple[str, int] | None:
        d = self.dirs.get("hugetlb")
        if d and os.path.isdir(d):
            return d, 1
        if self.udir and "hugetlb" in read_or(os.path.join(self.udir, "cgroup.controllers")).split():
            return self.udir, 2
        return None

    def oom_kill_count(self) -> int:
        d = self.dirs.get("memory")
        if not d:
            return 0
        for line in read_or(os.path.join(d, "memory.oom_control")).splitlines():
            key, _, value = line.partition(" ")
            if key == "oom_kill":
                return int(value)
        return 0

    def destroy(self) -> None:
        if self.exists():
            if self.pids() or (self.udir and os.path.isdir(self.udir) and read_procs(self.udir)):
                self._kill_all()
            for d in self._unique_dirs():
                remove_tree(d)
        leaves = set(self._unique_dirs())
        for d in reversed(self.created):
            if d not in leaves:
                remove_if_empty(d)
        if self.enabled:
            from pallet.runtime.cgroups.v2 import disable_controllers

            disable_controllers(self.enabled)
            self.enabled = []

    def _kill_all(self) -> None:
        """Kill what is left in the cgroup (an empty cgroup stays empty: nothing in it can fork)."""
        from pallet.runtime.cgroups.v2 import kill_dir

        emptied = False
        if self.udir and os.path.isdir(self.udir):
            # v1 freezer: a frozen task dies only once thawed.
            fz = self.dirs.get("freezer")
            if fz and read_or(os.path.join(fz, "freezer.state"), "THAWED").strip() != "THAWED":
                write(os.path.join(fz, "freezer.state"), "THAWED")
            emptied = kill_dir(self.udir)
        if not emptied:
            self._kill_and_wait()
