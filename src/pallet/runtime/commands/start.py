"""pallet-runtime start."""

from __future__ import annotations

from pallet.runtime.commands._common import container_id

USAGE = "pallet-runtime start <container-id>"
OPTIONS = ()


def run(g: object, opts: dict[str, object], args: list[str]) -> int:
    from pallet.runtime.lifecycle import start

    start(g.root, container_id(args, "start"))  # type: ignore[attr-defined]
    return 0
