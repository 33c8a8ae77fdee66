"""`pallet diff` / `pallet container diff`: files Added, Changed or Deleted in a container's layer."""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse

    from pallet.cli.main import Context


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("container", metavar="CONTAINER")


def run(args: argparse.Namespace, ctx: Context) -> int:
    from pallet.cli.commands._images import snapshotter
    from pallet.image.diff import changes

    record = ctx.engine().get(args.container)
    snap = snapshotter(ctx)
    cid = record["Id"]
    for change in changes(snap.upper_dir(cid), snap.lower_dirs(cid), snap.whiteouts):
        print(f"{change.kind} {change.path}")
    return 0
