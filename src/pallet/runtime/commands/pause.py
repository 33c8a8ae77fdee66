"""pallet-runtime pause: freeze every process of a running container (its cgroup's freezer)."""

from __future__ import annotations

from pallet.runtime.cliparse import Option
from pallet.runtime.commands._common import container_id

USAGE = "pallet-runtime pause <container-id>"
OPTIONS: tuple[Option, ...] = ()


def run(g: object, opts: dict[str, object], args: list[str]) -> int:
    from pallet.runtime.control import set_frozen

    cid = container_id(args, "pause")
    set_frozen(g.root, cid, freeze=True)  # type: ignore[attr-defined]
    return 0
