"""pallet-runtime run: create and start; in the foreground, wait and delete."""

from __future__ import annotations

from pallet.runtime.cliparse import Option
from pallet.runtime.commands._common import CREATE_OPTIONS, bundle_of, container_id, create_options

USAGE = "pallet-runtime run [command options] <container-id>"
OPTIONS = (
    *CREATE_OPTIONS,
    Option("--detach", "-d", help="detach from the container's process"),
    Option("--keep", help="do not delete the container after it exits"),
)


def run(g: object, opts: dict[str, object], args: list[str]) -> int:
    from pallet.runtime.lifecycle import run as run_container

    cid = container_id(args, "run")
    return run_container(g.root, cid, bundle_of(opts), create_options(opts), detach=bool(opts["detach"]))  # type: ignore[attr-defined,arg-type]
