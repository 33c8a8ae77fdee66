"""`pallet cp`: copy files/folders between a container and the host (pallet.engine.copy)."""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse

    from pallet.cli.main import Context


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-a", "--archive", action="store_true", help="Archive mode (copy all uid/gid information)")
    parser.add_argument("-L", "--follow-link", action="store_true", help="Always follow symbol link in SRC_PATH")
    parser.add_argument("-q", "--quiet", action="store_true", help="Suppress progress output (there is none)")
    parser.add_argument("source", metavar="SRC_PATH", help="CONTAINER:SRC_PATH, a host path, or - (a tar stream)")
    parser.add_argument("dest", metavar="DEST_PATH", help="CONTAINER:DEST_PATH, a host path, or - (a tar stream)")


def split_arg(arg: str) -> tuple[str | None, str]:
    """docker's rule: ``CONTAINER:PATH`` unless the argument starts with / or . (a host path)."""
    if arg == "-" or arg.startswith(("/", ".")):
        return None, arg
    container, sep, path = arg.partition(":")
    if not sep:
        return None, arg
    return container, path


def run(args: argparse.Namespace, ctx: Context) -> int:
    from pallet.engine.copy import copy_from_container, copy_to_container
    from pallet.errors import ConfigError

    src_container, src = split_arg(args.source)
    dest_container, dest = split_arg(args.dest)
    if src_container is not None and dest_container is not None:
        raise ConfigError(f"copying between containers is not supported ({args.source} -> {args.dest})")
    if src_container is None and dest_container is None:
        raise ConfigError(f"must specify at least one container source ({args.source} -> {args.dest}): "
                          "write it CONTAINER:PATH")
    engine = ctx.engine()
    if src_container is not None:
        if not src:
            raise ConfigError(f"empty path in {args.source!r}: write CONTAINER:PATH")
        copy_from_container(engine, src_container, src, dest, follow=args.follow_link, archive=args.archive)
    else:
        if not dest:
            raise ConfigError(f"empty path in {args.dest!r}: write CONTAINER:PATH")
        assert dest_container is not None
        copy_to_container(engine, dest_container, src, dest, follow=args.follow_link, archive=args.archive)
    return 0
