"""Where the cgroup hierarchies are: legacy v1, hybrid (v1 plus a cgroup2 tree) or unified v2.

Detection lists the cgroup root once (one ``scandir``): a root that holds ``cgroup.controllers`` is a
cgroup2 mount (unified); otherwise every directory named after v1 controllers is a v1 hierarchy
(``cpu,cpuacct`` holds two; the ``cpu`` and ``cpuacct`` symbolic links beside it are skipped), and a
``unified`` directory holding ``cgroup.controllers`` is the cgroup2 tree of a hybrid host.
"""

from __future__ import annotations

import os

# Controllers of cgroup v1 that pallet knows how to use.
V1_CONTROLLERS = frozenset(
    ("cpu", "cpuacct", "cpuset", "memory", "devices", "freezer", "blkio", "pids", "hugetlb",
     "net_cls", "net_prio", "perf_event", "rdma", "misc")
)


class Layout:
    """The hierarchies under one cgroup root."""

    __slots__ = ("root", "systemd", "unified", "v1")

    def __init__(self, root: str, v1: dict[str, str], unified: str | None, systemd: str | None = None) -> None:
        self.root = root
        self.v1 = v1  # controller -> mount directory of its v1 hierarchy
        self.unified = unified  # the cgroup2 mount directory, if any
        self.systemd = systemd  # the name=systemd v1 hierarchy (no controller: systemd's tracking)

    @property
    def mode(self) -> str:
        """"v1" (legacy), "hybrid" (v1 controllers plus a cgroup2 tree) or "v2" (unified)."""
        if not self.v1:
            return "v2" if self.unified else "none"
        return "hybrid" if self.unified else "v1"


def detect(root: str = "/sys/fs/cgroup") -> Layout:
    """Find the hierarchies mounted under ``root``."""
    if os.path.exists(os.path.join(root, "cgroup.controllers")):
        return Layout(root, {}, root)
    v1: dict[str, str] = {}
    unified: str | None = None
    systemd: str | None = None
    try:
        entries = list(os.scandir(root))
    except OSError:
        entries = []
    for entry in entries:
        if entry.is_symlink() or not entry.is_dir():
            continue
        if entry.name == "unified":
            if os.path.exists(os.path.join(entry.path, "cgroup.controllers")):
                unified = entry.path
            continue
        if entry.name == "systemd":
            if os.path.exists(os.path.join(entry.path, "tasks")):
                systemd = entry.path
            continue
        for name in entry.name.split(","):
            if name in V1_CONTROLLERS:
                v1[name] = entry.path
    return Layout(root, v1, unified, systemd)


def systemd_booted(run: str = "/run") -> bool:
    """Whether systemd is the host's init (as sd_booted(3) tells: /run/systemd/system exists)."""
    return os.path.isdir(os.path.join(run, "systemd", "system"))


def unified_controllers(unified: str, path: str = "") -> set[str]:
    """The controllers a cgroup2 directory offers (its ``cgroup.controllers``)."""
    try:
        with open(os.path.join(unified, path.lstrip("/"), "cgroup.controllers")) as f:
            return set(f.read().split())
    except OSError:
        return set()
