"""pallet-runtime delete."""

from __future__ import annotations

from pallet.runtime.cliparse import Option
from pallet.runtime.commands._common import container_id

USAGE = "pallet-runtime delete [command options] <container-id>"
OPTIONS = (Option("--force", "-f", help="forcibly delete the container if it is still running (uses SIGKILL)"),)


def run(g: object, opts: dict[str, object], args: list[str]) -> int:
    from pallet.errors import NotFoundError
    from pallet.runtime.lifecycle import delete

    cid = container_id(args, "delete")
    try:
        delete(g.root, cid, force=bool(opts["force"]))  # type: ignore[attr-defined]
    except NotFoundError:
        if opts["force"]:
            return 0
        raise
    return 0
