"""`pallet import` / `pallet image import`: a root filesystem tarball as an image (-c changes, -m message)."""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse

    from pallet.cli.main import Context


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-c", "--change", action="append", default=[], help="Apply Dockerfile instruction to the created image")
    parser.add_argument("-m", "--message", default="", help="Set commit message for imported image")
    parser.add_argument("--platform", default="", help="Set platform if server is multi-platform capable")
    parser.add_argument("file", metavar="file|-")
    parser.add_argument("reference", nargs="?", metavar="REPOSITORY[:TAG]")


def run(args: argparse.Namespace, ctx: Context) -> int:
    import sys

    from pallet.cli.commands._images import images, normalise, snapshotter
    from pallet.errors import ConfigError, NotFoundError
    from pallet.image.commit import import_tarball

    if "://" in args.file:
        raise ConfigError(f"import from a URL ({args.file!r}) is not supported: download it and give the file")
    refs = [normalise(args.reference, source="pallet import")] if args.reference else []
    store = images(ctx)
    if args.file == "-":
        source = sys.stdin.buffer
        image = import_tarball(store, snapshotter(ctx), source, refs=refs, changes=args.change,
                               message=args.message, source_name="-", platform=args.platform)
    else:
        try:
            f = open(args.file, "rb")
        except FileNotFoundError:
            raise NotFoundError(f"import: {args.file} does not exist") from None
        with f:
            image = import_tarball(store, snapshotter(ctx), f, refs=refs, changes=args.change,
                                   message=args.message, source_name=args.file, platform=args.platform)
    print(image.id)
    return 0
