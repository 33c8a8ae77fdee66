"""pallet-runtime resume: thaw a paused container."""

from __future__ import annotations

from pallet.runtime.cliparse import Option
from pallet.runtime.commands._common import container_id

USAGE = "pallet-runtime resume <container-id>"
OPTIONS: tuple[Option, ...] = ()


def run(g: object, opts: dict[str, object], args: list[str]) -> int:
    cid = container_id(args, "resume")
    from pallet.runtime.control import set_frozen

    set_frozen(g.root, cid, freeze=False)  # type: ignore[attr-defined]
    return 0
