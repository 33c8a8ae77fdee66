"""pallet-runtime resume: thaw a paused container."""

from __future__ import annotations

from pallet.runtime.cliparse import Option
from pallet.runtime.commands._common import container_id

USAGE = "pallet-runtime resume <container-id>"
OPTIONS: tuple[Option, ...] = ()


def frozen_cgroup(root: str, cid: str, needed: str, *, freeze: bool) -> None:
    """Freeze or thaw a container's cgroup, under its lock, if it is in the ``needed`` state."""
    from pallet.errors import StateError
    from pallet.runtime import statedir
    from pallet.runtime.container import Container

    with statedir.Lock(root, cid):
        c = Container.load(root, cid)
        status = c.status()
        verb = "pause" if freeze else "resume"
        if status != needed:
            raise StateError(f"cannot {verb} container {cid!r}: it is {status} (it must be {needed})")
        cg = c.cgroup()
        if cg is None:
            raise StateError(f"cannot {verb} container {cid!r}: it has no cgroup")
        if freeze:
            cg.freeze()  # type: ignore[attr-defined]
        else:
            cg.thaw()  # type: ignore[attr-defined]


def run(g: object, opts: dict[str, object], args: list[str]) -> int:
    cid = container_id(args, "resume")
    frozen_cgroup(g.root, cid, "paused", freeze=False)  # type: ignore[attr-defined]
    return 0
