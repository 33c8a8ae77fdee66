"""`pallet network connect`: put a running container on one more network."""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse

    from pallet.cli.main import Context


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--alias", action="append", default=[], help="Add network-scoped alias for the container")
    parser.add_argument("--ip", default="", help="IPv4 address (e.g., 172.30.100.104)")
    parser.add_argument("network", metavar="NETWORK")
    parser.add_argument("container", metavar="CONTAINER")


def run(args: argparse.Namespace, ctx: Context) -> int:
    from pallet.cli.commands._network import container, store
    from pallet.errors import StateError

    cid, name, pid = container(ctx, args.container)
    if not pid:
        raise StateError(f"container {args.container} is not running: start it before connecting it")
    store(ctx).connect(args.network, cid, pid, name=name, aliases=args.alias, ip=args.ip)
    return 0
