"""`pallet network disconnect`: take a container off a network."""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse

    from pallet.cli.main import Context


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-f", "--force", action="store_true", help="Force the container to disconnect")
    parser.add_argument("network", metavar="NETWORK")
    parser.add_argument("container", metavar="CONTAINER")


def run(args: argparse.Namespace, ctx: Context) -> int:
    from pallet.engine.networking import disconnect

    disconnect(ctx.engine(), args.container, args.network, force=args.force)
    return 0
