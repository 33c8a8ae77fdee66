"""`pallet export` / `pallet container export`: a container's whole filesystem as a tar."""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse

    from pallet.cli.main import Context


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-o", "--output", help="Write to a file, instead of STDOUT")
    parser.add_argument("container", metavar="CONTAINER")


def run(args: argparse.Namespace, ctx: Context) -> int:
    import os
    import sys

    from pallet.cli.commands._images import snapshotter
    from pallet.errors import ConfigError
    from pallet.image.commit import export_snapshot, export_tree

    record = ctx.engine().get(args.container)
    merged = ((record.get("GraphDriver") or {}).get("Data") or {}).get("MergedDir") or ""
    running = bool(record["State"].get("Running"))

    def write(out: object) -> None:
        # A running container's root is mounted already: walk it there (mounting its upper dir a
        # second time is not allowed by overlayfs).
        if running and merged and os.path.ismount(merged):
            export_tree(merged, out)  # type: ignore[arg-type]
        else:
            export_snapshot(snapshotter(ctx), record["Id"], out)  # type: ignore[arg-type]

    if args.output is None:
        if sys.stdout.isatty():
            raise ConfigError("cowardly refusing to save to a terminal. Use the -o flag or redirect")
        sys.stdout.flush()
        write(sys.stdout.buffer)
        sys.stdout.buffer.flush()
        return 0
    tmp = f"{args.output}.tmp-{os.getpid()}"
    try:
        with open(tmp, "wb") as f:
            write(f)
        os.rename(tmp, args.output)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return 0
