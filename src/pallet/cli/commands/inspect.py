"""`pallet inspect`: containers first, then images (docker's generic inspect; --type to choose)."""

from __future__ import annotations

import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse

    from pallet.cli.main import Context


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-f", "--format", help="Format output using a custom template")
    parser.add_argument("-s", "--size", action="store_true", help="Display total file sizes if the type is container")
    parser.add_argument("--type", choices=("container", "image"), help="Return JSON for specified type")
    parser.add_argument("names", nargs="+", metavar="NAME|ID")


def image_document(ctx: Context, name: str) -> object:
    """The image's inspect document, as `pallet image inspect` makes it."""
    from pallet.cli.commands._images import find, images
    from pallet.cli.commands.image_inspect import document

    return document(ctx, find(images(ctx), name)[0])


def run(args: argparse.Namespace, ctx: Context) -> int:
    from pallet.cli.commands.inspect_container import document, emit
    from pallet.cli.main import exit_code_for
    from pallet.errors import NotFoundError, PalletError

    engine = ctx.engine()
    docs: list[object] = []
    failed = False
    for name in args.names:
        try:
            if args.type != "image":
                try:
                    docs.append(document(engine, engine.get(name), args.size))
                    continue
                except NotFoundError:
                    if args.type == "container":
                        raise
            try:
                docs.append(image_document(ctx, name))
            except NotFoundError:
                raise NotFoundError(f"No such object: {name}") from None
        except PalletError as exc:
            failed = True
            print(exit_code_for(exc)[1], file=sys.stderr)
    emit(docs, args.format)
    return 1 if failed else 0
