"""`pallet network prune`: remove every user network without containers."""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse

    from pallet.cli.main import Context


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-f", "--force", action="store_true", help="Do not prompt for confirmation")


def run(args: argparse.Namespace, ctx: Context) -> int:
    import sys

    from pallet.cli.commands._network import store

    if not args.force:
        sys.stderr.write("WARNING! This will remove all custom networks not used by at least one container.\n"
                         "Are you sure you want to continue? [y/N] ")
        sys.stderr.flush()
        if sys.stdin.readline().strip().lower() not in ("y", "yes"):
            return 0
    removed = store(ctx).prune()
    if removed:
        print("Deleted Networks:\n" + "\n".join(removed))
    return 0
