"""`pallet volume rm`: remove volumes no container uses."""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse

    from pallet.cli.main import Context


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-f", "--force", action="store_true", help="Do not fail when a volume does not exist")
    parser.add_argument("names", nargs="+", metavar="VOLUME")


def run(args: argparse.Namespace, ctx: Context) -> int:
    from pallet.cli.commands._common import each
    from pallet.engine.volumes import remove
    from pallet.errors import NotFoundError

    engine = ctx.engine()

    def one(name: str) -> str | None:
        try:
            return remove(engine, name)
        except NotFoundError:
            if args.force:
                return None
            raise

    return each(args.names, one)
