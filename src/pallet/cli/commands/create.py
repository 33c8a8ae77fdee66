"""`pallet create`: create a new container (not started); prints its id."""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse

    from pallet.cli.main import Context


def configure(parser: argparse.ArgumentParser) -> None:
    from pallet.cli.commands._runopts import add_run_flags

    add_run_flags(parser)
    parser.add_argument("image", metavar="IMAGE")
    # "..." is argparse.REMAINDER, written out: the common `run` lines are parsed without argparse
    parser.add_argument("command", nargs="...", metavar="COMMAND [ARG...]")


def create(args: argparse.Namespace, ctx: Context, command: str = "create") -> str:
    from pallet.cli.commands._runopts import build
    from pallet.engine.create import create_container
    from pallet.errors import ConfigError

    try:
        config, hostconfig = build(args)
    except ConfigError as exc:  # a flag's value (docker's CLI checks these itself: exit 125, also for create)
        from pallet.cli.main import UsageError

        raise UsageError(str(exc), command, hint=False) from None
    warnings: list[str] = []
    record = create_container(ctx.engine(), config, hostconfig, args.name, warnings)
    for warning in warnings:
        ctx.warn(warning)
    cid: str = record["Id"]
    return cid


def run(args: argparse.Namespace, ctx: Context) -> int:
    print(create(args, ctx))
    return 0
