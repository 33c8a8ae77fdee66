"""`pallet rmi` / `pallet image rm`: remove images (untag first; -f also when used or multiply tagged)."""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse

    from pallet.cli.main import Context


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-f", "--force", action="store_true", help="Force removal of the image")
    parser.add_argument("--no-prune", action="store_true", help="Do not delete untagged parents (accepted)")
    parser.add_argument("images", nargs="+", metavar="IMAGE")


def run(args: argparse.Namespace, ctx: Context) -> int:
    from pallet.cli.commands._common import each
    from pallet.cli.commands._images import containers_using, find, images, snapshotter
    from pallet.image.remove import remove_image

    store = images(ctx)
    in_use = containers_using(ctx)

    def rm(name: str) -> str:
        _image, key = find(store, name)
        return "\n".join(remove_image(store, snapshotter(ctx), name, force=args.force, in_use=in_use,
                                      resolved=key))

    return each(args.images, rm)
