"""`pallet stop`: the stop signal, then SIGKILL after the timeout."""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse

    from pallet.cli.main import Context


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-t", "--time", "--timeout", dest="time", type=int, help="Seconds to wait before killing the container")
    parser.add_argument("-s", "--signal", help="Signal to send to the container")
    parser.add_argument("containers", nargs="+", metavar="CONTAINER")


def run(args: argparse.Namespace, ctx: Context) -> int:
    from pallet.cli.commands._common import each
    from pallet.engine.service import parse_signal

    engine = ctx.engine()
    sig = parse_signal(args.signal, "--signal") if args.signal else None

    def stop(name: str) -> str:
        engine.stop(name, None if args.time is None else float(args.time), sig)
        return name

    return each(args.containers, stop)
