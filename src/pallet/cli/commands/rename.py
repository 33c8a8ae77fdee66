"""`pallet rename`: rename a container (the new name is claimed atomically)."""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse

    from pallet.cli.main import Context


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("container", metavar="CONTAINER")
    parser.add_argument("new_name", metavar="NEW_NAME")


def run(args: argparse.Namespace, ctx: Context) -> int:
    ctx.engine().rename(args.container, args.new_name)
    return 0
