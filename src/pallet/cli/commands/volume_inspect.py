"""`pallet volume inspect`: docker's volume document (-f)."""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse

    from pallet.cli.main import Context


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-f", "--format", help="Format output using a custom template")
    parser.add_argument("names", nargs="+", metavar="VOLUME")


def run(args: argparse.Namespace, ctx: Context) -> int:
    import sys

    from pallet.cli.commands.inspect_container import emit
    from pallet.cli.main import exit_code_for
    from pallet.engine.volumes import inspect
    from pallet.errors import PalletError

    root = ctx.engine().root
    docs, failed = [], False
    for name in args.names:
        try:
            doc = inspect(root, name)
            doc.pop("Anonymous", None)
            docs.append(doc)
        except PalletError as exc:
            failed = True
            print(exit_code_for(exc)[1], file=sys.stderr)
    emit(docs, args.format)
    return 1 if failed else 0
