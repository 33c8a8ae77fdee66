"""`pallet rm`: remove containers (-f kills a running one first, -v removes its anonymous volumes)."""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse

    from pallet.cli.main import Context


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-f", "--force", action="store_true", help="Force the removal of a running container (uses SIGKILL)")
    parser.add_argument("-v", "--volumes", action="store_true", help="Remove anonymous volumes associated with the container")
    parser.add_argument("containers", nargs="+", metavar="CONTAINER")


def run(args: argparse.Namespace, ctx: Context) -> int:
    from pallet.cli.commands._common import each

    engine = ctx.engine()

    def rm(name: str) -> str:
        engine.remove(name, force=args.force, volumes=args.volumes)
        return name

    return each(args.containers, rm)
