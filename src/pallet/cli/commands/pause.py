"""`pallet pause`: pause all processes within containers (cgroup freezer)."""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse

    from pallet.cli.main import Context


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("containers", nargs="+", metavar="CONTAINER")


def run(args: argparse.Namespace, ctx: Context) -> int:
    from pallet.cli.commands._common import each

    engine = ctx.engine()

    def one(name: str) -> str:
        engine.pause(name)
        return name

    return each(args.containers, one)
