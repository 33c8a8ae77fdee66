"""`pallet system prune`: remove stopped containers (and dangling images where the image store allows)."""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse

    from pallet.cli.main import Context


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-a", "--all", action="store_true", help="Remove all unused images not just dangling ones"
    )
    parser.add_argument("-f", "--force", action="store_true", help="Do not prompt for confirmation")
    parser.add_argument("--volumes", action="store_true", help="Prune anonymous volumes")
    parser.add_argument("--filter", action="append", default=[], help="Provide filter values")


def run(args: argparse.Namespace, ctx: Context) -> int:
    import sys

    from pallet.cli.commands.container_prune import prune

    if not args.force and sys.stdin.isatty():
        answer = input(
            "WARNING! This will remove all stopped containers.\nAre you sure you want to continue? [y/N] "
        )
        if answer.strip().lower() not in ("y", "yes"):
            return 0
    removed = prune(ctx, args.filter)
    if removed:
        print("Deleted Containers:")
        for cid in removed:
            print(cid)
        print()
    print("Total reclaimed space: 0B")
    return 0
