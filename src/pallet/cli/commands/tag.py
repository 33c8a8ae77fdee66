"""`pallet tag SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]`: a new name for an image."""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse

    from pallet.cli.main import Context


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("source", metavar="SOURCE_IMAGE[:TAG]")
    parser.add_argument("target", metavar="TARGET_IMAGE[:TAG]")


def run(args: argparse.Namespace, ctx: Context) -> int:
    from pallet.cli.commands._images import find, images, normalise
    from pallet.errors import ConfigError

    store = images(ctx)
    image, _ = find(store, args.source)
    target = normalise(args.target, source="target image of pallet tag")
    if "@" in target:
        raise ConfigError(f"refusing to create a tag with a digest reference: {args.target!r}")
    store.tag(image.id, target)
    return 0
