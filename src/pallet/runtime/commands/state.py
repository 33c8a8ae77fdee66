"""pallet-runtime state."""

from __future__ import annotations

import sys

from pallet.runtime.commands._common import container_id

USAGE = "pallet-runtime state <container-id>"
OPTIONS = ()


def run(g: object, opts: dict[str, object], args: list[str]) -> int:
    import json

    from pallet.runtime.container import Container

    c = Container.load(g.root, container_id(args, "state"))  # type: ignore[attr-defined]
    sys.stdout.write(json.dumps(c.runc_state(), indent=2) + "\n")
    return 0
