"""`pallet network connect`: put a container on one more network (now if it runs, and at every start)."""

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
    from pallet.engine.networking import connect

    connect(ctx.engine(), args.container, args.network, aliases=args.alias, ip=args.ip)
    return 0
