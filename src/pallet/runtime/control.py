"""Changing a running container's cgroup: pause, resume, update (the runtime as a library).

The CLI commands (pause, resume, update) and the engine's in-process runtime both call these.
"""

from __future__ import annotations

from pallet.errors import StateError
from pallet.runtime import statedir
from pallet.runtime.container import Container


def set_frozen(root: str, cid: str, *, freeze: bool) -> None:
    """Freeze (pause) a running container's cgroup, or thaw (resume) a paused one, under its lock."""
    needed = "running" if freeze else "paused"
    verb = "pause" if freeze else "resume"
    with statedir.Lock(root, cid):
        c = Container.load(root, cid)
        status = c.status()
        if status != needed:
            raise StateError(f"cannot {verb} container {cid!r}: it is {status} (it must be {needed})")
        cg = c.cgroup()
        if cg is None:
            raise StateError(f"cannot {verb} container {cid!r}: it has no cgroup")
        if freeze:
            cg.freeze()  # type: ignore[attr-defined]
        else:
            cg.thaw()  # type: ignore[attr-defined]


def merge_resources(old: dict[str, object], new: dict[str, object]) -> dict[str, object]:
    """``new`` laid over ``old``, section by section (what update leaves unsaid stays)."""
    out = dict(old)
    for key, value in new.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge_resources(out[key], value)  # type: ignore[arg-type]
        else:
            out[key] = value
    return out


def update_resources(root: str, cid: str, resources: dict[str, object]) -> None:
    """New limits (linux.resources without devices) for a live container: checked against the host,
    written to its cgroup, and saved in its state, under its lock."""
    with statedir.Lock(root, cid):
        c = Container.load(root, cid)
        status = c.status()
        if status in ("stopped", "creating"):
            raise StateError(f"cannot update container {cid!r}: it is {status}")
        cg = c.cgroup()
        if cg is None:
            raise StateError(f"cannot update container {cid!r}: it has no cgroup")
        cg.check(resources)  # type: ignore[attr-defined]
        cg.set(resources)  # type: ignore[attr-defined]
        config = c.config
        linux = config.setdefault("linux", {})
        if isinstance(linux, dict):
            linux["resources"] = merge_resources(linux.get("resources") or {}, resources)
            c.data["config"] = config
            c.save()
