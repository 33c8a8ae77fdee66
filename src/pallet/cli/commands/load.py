"""`pallet load` / `pallet image load`: images from a docker-archive or OCI layout (tar or directory)."""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse

    from pallet.cli.main import Context


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-i", "--input", default="-", help="Read from tar archive file (or directory), instead of STDIN")
    parser.add_argument("-q", "--quiet", action="store_true", help="Suppress the load output")


def run(args: argparse.Namespace, ctx: Context) -> int:
    import sys

    from pallet.cli.commands._images import familiar, images, snapshotter
    from pallet.errors import ConfigError
    from pallet.image.archive import load
    from pallet.image.unpack import unpack

    if args.input == "-" and sys.stdin.isatty():
        raise ConfigError("requested load from stdin, but stdin is empty (a terminal): use -i FILE or redirect")
    store = images(ctx)
    snap = snapshotter(ctx)
    loaded = load(store, args.input, stdin=sys.stdin.buffer, snapshotter=snap)  # layers unpacked as read
    for image in loaded:
        unpack(store, snap, image)
        if args.quiet:
            continue
        if image.repo_tags:
            for t in image.repo_tags:
                print(f"Loaded image: {familiar(t)}")
        else:
            print(f"Loaded image ID: {image.id}")
    return 0
