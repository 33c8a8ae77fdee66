"""Cgroups of a container: one manager interface, v1 (and hybrid) and v2 implementations.

``new_manager`` detects the host's hierarchies under ``root`` (a parameter, so that tests use a fake
tree); ``load_manager`` rebuilds a manager from the dict its ``to_dict`` saved in the runtime's
state.  Standard library only on the start path: the statistics types load when first asked for.
"""

from __future__ import annotations

from pallet.runtime.cgroups.base import CgroupManager, cgroup_path
from pallet.runtime.cgroups.devices import DEFAULT_DEVICE_RULES, container_device_rules

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from pallet.runtime.cgroups.stats import CgroupStats

__all__ = [
    "DEFAULT_DEVICE_RULES",
    "CgroupManager",
    "CgroupStats",
    "cgroup_path",
    "container_device_rules",
    "load_manager",
    "new_manager",
]


def new_manager(cgroups_path: str | None, container_id: str, *, root: str = "/sys/fs/cgroup") -> CgroupManager:
    """The manager of a container's cgroup (linux.cgroupsPath, or /pallet/<id> when None)."""
    from pallet.errors import UnsupportedError
    from pallet.runtime.cgroups.detect import detect

    path = cgroup_path(cgroups_path, container_id)
    layout = detect(root)
    if layout.v1:
        from pallet.runtime.cgroups.v1 import V1Manager

        return V1Manager(root, path, layout.v1, layout.unified, systemd=layout.systemd)
    if layout.unified:
        from pallet.runtime.cgroups.v2 import V2Manager

        return V2Manager(root, path)
    raise UnsupportedError(f"no cgroup hierarchy is mounted under {root}: cannot limit containers")


def load_manager(saved: dict[str, Any]) -> CgroupManager:
    """The manager that ``to_dict`` saved."""
    from pallet.errors import StateError

    version = saved.get("version") if isinstance(saved, dict) else None
    if version == 1:
        from pallet.runtime.cgroups.v1 import V1Manager

        return V1Manager.from_dict(saved)
    if version == 2:
        from pallet.runtime.cgroups.v2 import V2Manager

        return V2Manager.from_dict(saved)
    raise StateError(f"saved cgroup state {saved!r} is not one pallet wrote (version 1 or 2 expected)")


def __getattr__(name: str) -> object:
    if name == "CgroupStats":
        from pallet.runtime.cgroups.stats import CgroupStats

        return CgroupStats
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
