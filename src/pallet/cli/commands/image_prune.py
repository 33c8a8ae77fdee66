"""`pallet image prune`: remove dangling images (-a: every image no container uses)."""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse

    from pallet.cli.main import Context


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-a", "--all", action="store_true", help="Remove all unused images, not just dangling ones")
    parser.add_argument("-f", "--force", action="store_true", help="Do not prompt for confirmation")
    parser.add_argument("--filter", action="append", default=[], help="Provide filter values (e.g. 'label=<key>=<value>')")


def run(args: argparse.Namespace, ctx: Context) -> int:
    from pallet.cli.commands._images import confirm, containers_using, human_size, images, snapshotter
    from pallet.errors import ConfigError
    from pallet.image.remove import prune

    filters: dict[str, list[str]] = {}
    for f in args.filter:
        k, eq, v = f.partition("=")
        if not eq or k not in ("label", "dangling"):
            raise ConfigError(f"invalid filter {f!r} (allowed: label=<key>[=<value>], dangling=<bool>)")
        filters.setdefault(k, []).append(v)
    if not args.force:
        what = ("all images without at least one container associated to them" if args.all
                else "all dangling images")
        if not confirm(f"WARNING! This will remove {what}.\nAre you sure you want to continue?"):
            return 0
    lines, reclaimed = prune(images(ctx), snapshotter(ctx), all_unused=args.all, in_use=containers_using(ctx),
                             filters=filters)
    if lines:
        print("Deleted Images:")
        for line in lines:
            print(line)
        print()
    print(f"Total reclaimed space: {human_size(reclaimed)}")
    return 0
