"""`pallet push`: upload an image to a registry (``push NAME[:TAG] [DESTINATION]``)."""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse

    from pallet.cli.main import Context


def configure(parser: argparse.ArgumentParser) -> None:
    from pallet.cli.commands._registry import add_flags

    parser.add_argument("-q", "--quiet", action="store_true", help="Suppress verbose output")
    parser.add_argument("--chunk-size", type=int, default=None, metavar="BYTES",
                        help="Upload blobs in chunks of this size (PATCH) instead of in one request")
    add_flags(parser)
    parser.add_argument("name", metavar="NAME[:TAG]")
    parser.add_argument("destination", nargs="?", default=None, metavar="DESTINATION",
                        help="Push to this reference instead of NAME")


def run(args: argparse.Namespace, ctx: Context) -> int:
    from pallet.cli.commands._registry import image_store, options
    from pallet.image.reference import parse
    from pallet.image.registry.progress import Progress, make_progress
    from pallet.image.registry.push import push
    from pallet.image.store import ImageStore

    source = parse(args.name, source="pallet push")
    dest = parse(args.destination, source="pallet push DESTINATION") if args.destination else source
    images = image_store(ctx)
    assert isinstance(images, ImageStore)
    progress = Progress() if args.quiet else make_progress()
    if not args.quiet:
        if ":" not in args.name.rsplit("/", 1)[-1] and "@" not in args.name and not args.destination:
            print("Using default tag: latest")
        print(f"The push refers to repository [{dest.name}]")
    try:
        result = push(images, str(source), dest, options=options(args, ctx), progress=progress,
                      chunk_size=args.chunk_size)
    finally:
        progress.close()
    if args.quiet:
        print(f"{dest.name}@{result.digest}")
    return 0
