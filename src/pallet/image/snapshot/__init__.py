"""Snapshotters: copy-on-write directories for image layers and containers.

``open_snapshotter(root, driver)`` returns the driver named ``driver`` (``overlay``, ``vfs``, or any
module ``pallet.image.snapshot.<name>`` defining ``SNAPSHOTTER``), or the default: overlay when the
kernel has overlayfs, vfs otherwise.  Adding a driver needs no change outside its own module.
"""

from __future__ import annotations

import os

from pallet.errors import ConfigError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pallet.image.snapshot.base import Snapshotter

BUILTIN = {"overlay": "OverlaySnapshotter", "overlay2": "OverlaySnapshotter", "vfs": "VfsSnapshotter"}


def default_driver() -> str:
    try:
        with open("/proc/filesystems") as f:
            if any(line.split()[-1:] == ["overlay"] for line in f):
                return "overlay"
    except OSError:
        pass
    return "vfs"


def open_snapshotter(root: str | os.PathLike[str], driver: str | None = None) -> Snapshotter:
    """The snapshotter ``driver`` with its state under ``root`` (the store's snapshots dir)."""
    import sys

    name = driver or default_driver()
    module_name = "overlay" if name == "overlay2" else name
    if not module_name.isidentifier() or module_name in ("base", "mounting"):
        raise ConfigError(f"storage driver {name!r} is not known (allowed: overlay, vfs)")
    try:
        __import__(f"pallet.image.snapshot.{module_name}")  # not importlib: it imports warnings (~1 ms)
        module = sys.modules[f"pallet.image.snapshot.{module_name}"]
    except ModuleNotFoundError:
        raise ConfigError(f"storage driver {name!r} is not known (allowed: overlay, vfs)") from None
    cls = getattr(module, BUILTIN.get(name, "SNAPSHOTTER"), None)
    if cls is None:
        raise ConfigError(f"storage driver module pallet.image.snapshot.{module_name} defines no snapshotter")
    snapshotter: Snapshotter = cls(root)
    return snapshotter
