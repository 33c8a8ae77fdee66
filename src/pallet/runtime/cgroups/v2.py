"""The cgroup v2 (unified) manager: one directory, controllers enabled from the parent down."""

from __future__ import annotations

import os
import time

from pallet.errors import RuntimeFailure
from pallet.runtime.cgroups.base import (
    CgroupManager,
    _StrSet,
    make_dirs,
    read_or,
    read_procs,
    refuse_busy,
    remove_if_empty,
    remove_tree,
    wait_empty,
    write,
)
from pallet.runtime.cgroups.detect import unified_controllers

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from pallet.runtime.cgroups.stats import CgroupStats

# cgroup v2 controllers, and the v1 name check() asks for each one under.
_V1_NAMES = {"io": "blkio"}


def enable_controllers(mount: str, path: str, controllers: set[str], *, root_too: bool) -> list[list[str]]:
    """Enable ``controllers`` in cgroup.subtree_control of every ancestor of ``path`` that lacks them.

    The hierarchy root is written only with ``root_too``.  Returns [directory, controller] pairs
    that were enabled here, for :func:`disable_controllers` to undo.
    """
    parts = path.strip("/").split("/")
    dirs = [os.path.join(mount, *parts[:i]) for i in range(0 if root_too else 1, len(parts))]
    enabled: list[list[str]] = []
    for d in dirs:
        have = set(read_or(os.path.join(d, "cgroup.subtree_control")).split())
        missing = (controllers - have) & set(read_or(os.path.join(d, "cgroup.controllers")).split())
        if missing:
            write(os.path.join(d, "cgroup.subtree_control"), " ".join("+" + c for c in sorted(missing)))
            enabled.extend([d, c] for c in sorted(missing))
    return enabled


def disable_controllers(enabled: list[list[str]]) -> None:
    """Undo enable_controllers where no other cgroup below the directory remains to need it."""
    for d, c in reversed(enabled):
        try:
            if any(e.is_dir(follow_symlinks=False) for e in os.scandir(d)):
                continue
            write(os.path.join(d, "cgroup.subtree_control"), "-" + c)
        except (OSError, RuntimeFailure):
            continue


def freeze_dir(d: str, frozen: bool, timeout: float = 5.0) -> None:
    """Write cgroup.freeze and wait until cgroup.events says the cgroup got there."""
    write(os.path.join(d, "cgroup.freeze"), "1" if frozen else "0")
    want = "frozen 1" if frozen else "frozen 0"
    deadline = time.monotonic() + timeout
    delay = 0.0005
    while want not in read_or(os.path.join(d, "cgroup.events"), want):
        if time.monotonic() > deadline:
            if frozen:
                write(os.path.join(d, "cgroup.freeze"), "0")
            raise RuntimeFailure(f"cgroups: {d} did not {'freeze' if frozen else 'thaw'} within {timeout} s",
                                 step="cgroups")
        time.sleep(delay)
        delay = min(delay * 2, 0.02)


def kill_dir(d: str, timeout: float = 5.0) -> bool:
    """SIGKILL every process of a cgroup2 directory (and below) with cgroup.kill; True if it emptied."""
    if not os.path.exists(os.path.join(d, "cgroup.kill")):
        return False
    write(os.path.join(d, "cgroup.kill"), "1")
    return wait_empty(lambda: read_procs(d), timeout)


class V2Manager(CgroupManager):
    """A container's cgroup on a unified (cgroup v2) hierarchy mounted at ``root``."""

    version = 2

    def __init__(self, root: str, path: str) -> None:
        super().__init__(root, path)
        self.dir = os.path.join(root, path.lstrip("/"))
        self.enabled: list[list[str]] = []

    def to_dict(self) -> dict[str, object]:
        return {"version": 2, "root": self.root, "path": self.path, "created": self.created,
                "enabled": self.enabled}

    @classmethod
    def from_dict(cls, saved: dict[str, Any]) -> V2Manager:
        m = cls(saved["root"], saved["path"])
        m.created = list(saved.get("created") or [])
        m.enabled = [list(x) for x in saved.get("enabled") or []]
        return m

    def paths(self) -> dict[str, str]:
        return {"": self.dir}

    def mode(self) -> str:
        return "v2"

    def available(self) -> _StrSet:
        ctrls = unified_controllers(self.root)
        return {_V1_NAMES.get(c, c) for c in ctrls} | {"devices", "freezer"}

    def unified_dir(self) -> str | None:
        return self.dir

    def unified_controllers(self) -> _StrSet:
        return unified_controllers(self.root)

    def has_swap_accounting(self) -> bool:
        return True  # memory.swap.max exists wherever the memory controller does

    def _cpuset_text(self, names: tuple[str, ...]) -> str | None:
        from pallet.runtime.cgroups.base import nearest_text

        return nearest_text(self.root, self.path, names)

    # --- lifecycle -------------------------------------------------------------------------------
    def create(self) -> None:
        existed = os.path.isdir(self.dir)
        if existed:
            refuse_busy(self.dir, read_or(os.path.join(self.dir, "cgroup.freeze")).strip() == "1")
        made = make_dirs(self.root, self.path)
        self.created = made
        try:
            # Pass down what the root already delegates (the root itself is the host's to configure).
            delegated = set(read_or(os.path.join(self.root, "cgroup.subtree_control")).split())
            if delegated:
                self.enabled = enable_controllers(self.root, self.path, delegated, root_too=False)
        except Exception:
            for d in reversed(made):
                remove_if_empty(d)
            self.created = []
            raise

    def add(self, pid: int) -> None:
        write(os.path.join(self.dir, "cgroup.procs"), str(pid))

    def set(self, resources: dict[str, Any] | None) -> None:
        if not resources:
            return
        from pallet.runtime.cgroups.v2_set import apply

        apply(self, resources)

    def ensure_controllers(self, controllers: _StrSet) -> None:
        """Enable controllers the resources need, up from the root if the root lacks them."""
        missing = controllers - set(read_or(os.path.join(self.dir, "cgroup.controllers")).split())
        if missing:
            self.enabled += enable_controllers(self.root, self.path, missing, root_too=True)

    def pids(self) -> list[int]:
        return read_procs(self.dir)

    def signal_all(self, sig: int) -> None:
        import signal

        if sig == signal.SIGKILL and os.path.exists(os.path.join(self.dir, "cgroup.kill")):
            write(os.path.join(self.dir, "cgroup.kill"), "1")
            return
        self._signal_frozen(sig)

    def freeze(self) -> None:
        freeze_dir(self.dir, True)

    def thaw(self) -> None:
        freeze_dir(self.dir, False)

    def is_frozen(self) -> bool:
        return read_or(os.path.join(self.dir, "cgroup.freeze")).strip() == "1"

    def stats(self) -> CgroupStats:
        from pallet.runtime.cgroups.stats import stats_v2

        return stats_v2(self.dir)

    def oom_kill_count(self) -> int:
        for line in read_or(os.path.join(self.dir, "memory.events")).splitlines():
            key, _, value = line.partition(" ")
            if key == "oom_kill":
                return int(value)
        return 0

    def destroy(self) -> None:
        if os.path.isdir(self.dir):
            if not kill_dir(self.dir):
                self._kill_and_wait()
            remove_tree(self.dir)
        for d in reversed(self.created):
            if d != self.dir:
                remove_if_empty(d)
        disable_controllers(self.enabled)
        self.enabled = []
