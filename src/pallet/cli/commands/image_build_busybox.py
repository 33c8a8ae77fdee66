"""`pallet image build-busybox`: the busybox image from the host's busybox-static, no registry needed."""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse

    from pallet.cli.main import Context


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--busybox", default="/bin/busybox", help="The static busybox binary (default /bin/busybox)")
    parser.add_argument("name", nargs="?", default="busybox:latest", metavar="NAME[:TAG]")


def run(args: argparse.Namespace, ctx: Context) -> int:
    from pallet.cli.commands._images import images, normalise, snapshotter
    from pallet.image.build_busybox import build_busybox
    from pallet.image.unpack import unpack

    store = images(ctx)
    image = build_busybox(store, normalise(args.name, source="pallet image build-busybox"), args.busybox)
    unpack(store, snapshotter(ctx), image)
    print(image.id)
    return 0
