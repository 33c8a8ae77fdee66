"""`pallet container prune`: remove all stopped containers."""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse

    from pallet.cli.main import Context


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-f", "--force", action="store_true", help="Do not prompt for confirmation")
    parser.add_argument(
        "--filter", action="append", default=[], help="Provide filter values (e.g. 'label=<key>=<value>')"
    )


def prune(ctx: Context, filters: list[str]) -> tuple[list[str], int]:
    """Remove the stopped containers matching ``filters``; (their ids, the bytes their layers held)."""
    from pallet.cli.commands.ps import match, parse_filters
    from pallet.engine.sizes import container_sizes

    engine = ctx.engine()
    parsed = parse_filters(filters)
    removed, freed = [], 0
    for record in engine.list(all=True):
        if record["State"]["Running"] or not match(record, parsed, engine):
            continue
        rw = container_sizes(engine.root, record)[0]
        removed.append(engine.remove(record["Id"]))
        freed += rw
    return removed, freed


def run(args: argparse.Namespace, ctx: Context) -> int:
    import sys

    if not args.force and sys.stdin.isatty():
        answer = input(
            "WARNING! This will remove all stopped containers.\nAre you sure you want to continue? [y/N] "
        )
        if answer.strip().lower() not in ("y", "yes"):
            return 0
    from pallet.cli.units import human_size

    removed, freed = prune(ctx, args.filter)
    if removed:
        print("Deleted Containers:")
        for cid in removed:
            print(cid)
        print()
    print(f"Total reclaimed space: {human_size(freed)}")
    return 0
