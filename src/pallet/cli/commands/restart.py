"""`pallet restart`: stop (signal, timeout, SIGKILL) then start containers again."""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse

    from pallet.cli.main import Context


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-t",
        "--time",
        "--timeout",
        dest="time",
        type=int,
        help="Seconds to wait before killing the container",
    )
    parser.add_argument("-s", "--signal", help="Signal to send to the container")
    parser.add_argument("containers", nargs="+", metavar="CONTAINER")


def run(args: argparse.Namespace, ctx: Context) -> int:
    from pallet.cli.commands._common import each
    from pallet.cli.commands.start import start_detached
    from pallet.engine.service import parse_signal

    engine = ctx.engine()
    sig = parse_signal(args.signal, "--signal") if args.signal else None

    def restart(name: str) -> str:
        record = engine.stop(name, None if args.time is None else float(args.time), sig)
        start_detached(ctx, record["Id"])
        return name

    return each(args.containers, restart)
