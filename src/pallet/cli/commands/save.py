"""`pallet save` / `pallet image save`: images to a tar (docker-archive and OCI layout in one)."""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse

    from pallet.cli.main import Context


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-o", "--output", help="Write to a file (a directory if it ends with /), instead of STDOUT")
    parser.add_argument("images", nargs="+", metavar="IMAGE")


def run(args: argparse.Namespace, ctx: Context) -> int:
    import os
    import sys

    from pallet.cli.commands._images import find, images
    from pallet.errors import ConfigError
    from pallet.image.archive import save

    store = images(ctx)
    names = []
    for n in args.images:
        _image, key = find(store, n)
        names.append(key)
    if args.output is None:
        if sys.stdout.isatty():
            raise ConfigError("cowardly refusing to save to a terminal. Use the -o flag or redirect")
        sys.stdout.flush()
        save(store, names, sys.stdout.buffer)
        sys.stdout.buffer.flush()
        return 0
    if args.output.endswith("/") or os.path.isdir(args.output):
        save(store, names, args.output.rstrip("/") or "/")
        return 0
    tmp = f"{args.output}.tmp-{os.getpid()}"
    try:
        with open(tmp, "wb") as f:
            save(store, names, f)
        os.rename(tmp, args.output)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return 0
