"""pallet-runtime kill."""

from __future__ import annotations

from pallet.runtime.cliparse import Option
from pallet.runtime.commands._common import container_id

USAGE = "pallet-runtime kill [command options] <container-id> [signal]"
OPTIONS = (Option("--all", "-a", help="send the specified signal to all processes inside the container"),)


def run(g: object, opts: dict[str, object], args: list[str]) -> int:
    from pallet.runtime.lifecycle import kill, parse_signal

    cid = container_id(args, "kill", extra=1)
    sig = parse_signal(args[1]) if len(args) > 1 else 15
    kill(g.root, cid, sig, all_processes=bool(opts["all"]))  # type: ignore[attr-defined]
    return 0
