"""`pallet wait`: block until containers stop, then print their exit codes."""

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

    def wait(name: str) -> str:
        cid = engine.store.resolve(name)
        return str(engine.wait_exit(cid)["State"]["ExitCode"])

    return each(args.containers, wait)
