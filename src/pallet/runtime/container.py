"""A container as the runtime knows it: its saved state and its status, worked out from reality.

Status transitions (runtime-spec): creating -> created (init waits on exec.fifo) -> running (start
opened the fifo) -> stopped (the init is gone); paused while the cgroup is frozen.  The status is
never stored: it is derived each time from the init's pid and start time, the fifo and the freezer,
so a container whose process died shows as stopped.
"""

from __future__ import annotations

import os

from pallet._linux import procfs
from pallet.runtime import statedir

OCI_VERSION = "1.2.0"


class Container:
    """The saved state of one container (state.json) with its derived status."""

    def __init__(self, root: str, data: dict[str, object]) -> None:
        self.root = root
        self.data = data
        self.id = str(data["id"])

    @classmethod
    def load(cls, root: str, cid: str) -> Container:
        return cls(root, statedir.read_state(root, cid))

    @property
    def dir(self) -> str:
        return statedir.container_dir(self.root, self.id)

    @property
    def pid(self) -> int:
        pid = self.data.get("pid", 0)
        return int(pid) if isinstance(pid, int) else 0

    @property
    def bundle(self) -> str:
        return str(self.data.get("bundle", ""))

    @property
    def config(self) -> dict[str, object]:
        cfg = self.data.get("config")
        return cfg if isinstance(cfg, dict) else {}

    def cgroup(self) -> object | None:
        saved = self.data.get("cgroup")
        if not isinstance(saved, dict):
            return None
        from pallet.runtime.cgroups import load_manager

        return load_manager(saved)

    def alive(self) -> bool:
        started = self.data.get("pid_start")
        return procfs.is_alive(self.pid, started if isinstance(started, int) else None)

    def status(self) -> str:
        if self.data.get("creating"):
            return "creating"
        if not self.alive():
            return "stopped"
        if os.path.exists(os.path.join(self.dir, statedir.FIFO)):
            return "created"
        cg = self.cgroup()
        if cg is not None:
            try:
                if cg.is_frozen():  # type: ignore[attr-defined]
                    return "paused"
            except OSError:
                pass
        return "running"

    def oci_state(self) -> dict[str, object]:
        """The runtime-spec state document."""
        status = self.status()
        state: dict[str, object] = {
            "ociVersion": OCI_VERSION,
            "id": self.id,
            "status": status,
            "pid": self.pid if status not in ("stopped", "creating") else 0,
            "bundle": self.bundle,
        }
        ann = self.config.get("annotations")
        if ann:
            state["annotations"] = ann
        return state

    def runc_state(self) -> dict[str, object]:
        """What `runc state` prints: the OCI state plus rootfs, created and owner."""
        state = self.oci_state()
        state["rootfs"] = self.data.get("rootfs", "")
        state["created"] = self.data.get("created", "")
        state["owner"] = ""
        return state

    def save(self, durable: bool = True) -> None:
        from pallet.atomicfile import write_json_atomic

        write_json_atomic(os.path.join(self.dir, statedir.STATE_FILE), self.data, durable=durable)
