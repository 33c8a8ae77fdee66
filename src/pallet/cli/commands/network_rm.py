"""`pallet network rm`: remove networks without containers."""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse

    from pallet.cli.main import Context


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-f", "--force", action="store_true", help="Do not error if the network does not exist")
    parser.add_argument("networks", metavar="NETWORK", nargs="+")


def run(args: argparse.Namespace, ctx: Context) -> int:
    from pallet.cli.commands._common import each
    from pallet.cli.commands._network import store
    from pallet.errors import NotFoundError

    def remove(ref: str) -> str | None:
        try:
            store(ctx).remove(ref)
        except NotFoundError:
            if args.force:
                return None
            raise
        return ref

    return each(args.networks, remove)
