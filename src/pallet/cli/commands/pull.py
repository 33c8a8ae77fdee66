"""`pallet pull`: download an image from a registry (docker's output; bars on a terminal)."""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse

    from pallet.cli.main import Context


def configure(parser: argparse.ArgumentParser) -> None:
    from pallet.cli.commands._registry import add_flags

    parser.add_argument("-q", "--quiet", action="store_true", help="Suppress verbose output")
    parser.add_argument("--platform", default=None, help="Set platform if server is multi-platform capable (os/arch[/variant])")
    add_flags(parser)
    parser.add_argument("name", metavar="NAME[:TAG|@DIGEST]")


def run(args: argparse.Namespace, ctx: Context) -> int:
    from pallet.cli.commands._registry import image_store, options
    from pallet.image.reference import parse
    from pallet.image.registry.progress import Progress, make_progress
    from pallet.image.registry.pull import pull
    from pallet.image.store import ImageStore

    ref = parse(args.name, source="pallet pull")
    images = image_store(ctx)
    assert isinstance(images, ImageStore)
    progress = Progress() if args.quiet else make_progress()
    if not args.quiet:
        if ref.tag == "latest" and ":" not in args.name.rsplit("/", 1)[-1] and "@" not in args.name:
            print("Using default tag: latest")
        print(f"{ref.tag or ref.digest}: Pulling from {ref.path}")
    try:
        result = pull(images, ref, options=options(args, ctx), platform=args.platform, progress=progress)
    finally:
        progress.close()
    print(str(result.reference))
    return 0
