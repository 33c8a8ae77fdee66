"""pallet-runtime create."""

from __future__ import annotations

from pallet.runtime.commands._common import CREATE_OPTIONS, bundle_of, container_id, create_options

USAGE = "pallet-runtime create [command options] <container-id>"
OPTIONS = CREATE_OPTIONS


def run(g: object, opts: dict[str, object], args: list[str]) -> int:
    from pallet.runtime.lifecycle import create

    cid = container_id(args, "create")
    _container, started = create(g.root, cid, bundle_of(opts), create_options(opts))  # type: ignore[attr-defined,arg-type]
    del started
    return 0
