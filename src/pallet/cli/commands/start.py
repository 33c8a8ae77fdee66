"""`pallet start`: start stopped containers (detached under the supervisor, or attached with -a)."""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse

    from pallet.cli.main import Context


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-a", "--attach", action="store_true", help="Attach STDOUT/STDERR and forward signals")
    parser.add_argument("-i", "--interactive", action="store_true", help="Attach container's STDIN")
    parser.add_argument("containers", nargs="+", metavar="CONTAINER")


def start_detached(ctx: Context, cid: str) -> int:
    """Start ``cid`` under the store's supervisor; its pid."""
    return supervisor_request(ctx, {"op": "start", "id": cid})


def supervisor_request(ctx: Context, message: dict[str, str]) -> int:
    """Ask the store's supervisor to start a container or a detached exec; the pid, or the error raised."""
    from pallet.engine.monitor import request
    from pallet.errors import PalletError, RuntimeFailure

    engine = ctx.engine()
    answer = request(engine.root, engine.runroot, message)
    if not answer.get("ok"):
        exc = RuntimeFailure(str(answer.get("error")))
        exc.exit_code = int(answer.get("exit_code", 125))
        if exc.exit_code not in (125, 126, 127):
            exc.exit_code = 125
        raise exc if isinstance(exc, PalletError) else RuntimeError(exc)
    return int(answer["pid"])


def run(args: argparse.Namespace, ctx: Context) -> int:
    from pallet.cli.commands._common import each

    engine = ctx.engine()
    if args.attach or args.interactive:
        if len(args.containers) > 1:
            from pallet.errors import ConfigError

            raise ConfigError("you cannot start and attach multiple containers at once")
        from pallet.engine.attach import run_foreground

        record = engine.get(args.containers[0])
        if record["State"]["Running"]:
            from pallet.errors import StateError

            raise StateError(f"container {args.containers[0]} is already running")
        return run_foreground(engine, record["Id"], interactive=args.interactive, tty=bool(record["Config"].get("Tty")))

    def start_one(name: str) -> str | None:
        record = engine.get(name)
        if not record["State"]["Running"]:
            start_detached(ctx, record["Id"])
        return name

    return each(args.containers, start_one)
