"""`pallet volume prune`: remove unused anonymous volumes (-a: every unused volume)."""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse

    from pallet.cli.main import Context


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-a", "--all", action="store_true", help="Remove all unused volumes, not just anonymous ones")
    parser.add_argument("-f", "--force", action="store_true", help="Do not prompt for confirmation")
    parser.add_argument("--filter", action="append", default=[], help="Provide filter values (e.g. 'label=<key>=<value>')")


def run(args: argparse.Namespace, ctx: Context) -> int:
    from pallet.cli.commands._images import confirm
    from pallet.cli.units import human_size
    from pallet.engine.volumes import prune
    from pallet.errors import ConfigError

    labels = []
    for item in args.filter:
        key, sep, value = item.partition("=")
        if key != "label" or not sep:
            raise ConfigError(f"invalid filter {item!r} (allowed: label=<key>[=<value>])")
        labels.append(value)
    if not args.force and not confirm("WARNING! This will remove anonymous local volumes not used by at least one "
                                      "container.\nAre you sure you want to continue?"):
        return 0
    removed, freed = prune(ctx.engine(), all_unused=args.all, label_filters=labels)
    if removed:
        print("Deleted Volumes:")
        for name in removed:
            print(name)
        print()
    print(f"Total reclaimed space: {human_size(freed)}")
    return 0
