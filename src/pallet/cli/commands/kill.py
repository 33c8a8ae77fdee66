"""`pallet kill`: send a signal (SIGKILL by default) to running containers."""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse

    from pallet.cli.main import Context


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-s", "--signal", default="KILL", help="Signal to send to the container")
    parser.add_argument("containers", nargs="+", metavar="CONTAINER")


def run(args: argparse.Namespace, ctx: Context) -> int:
    from pallet.cli.commands._common import each
    from pallet.engine.service import parse_signal

    engine = ctx.engine()
    sig = parse_signal(args.signal, "--signal")

    def kill(name: str) -> str:
        engine.kill(name, sig)
        return name

    return each(args.containers, kill)
