"""`pallet run`: create a container and start it, attached (the CLI is its monitor) or detached."""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse

    from pallet.cli.main import Context


def configure(parser: argparse.ArgumentParser) -> None:
    from pallet.cli.commands import create

    create.configure(parser)


def run(args: argparse.Namespace, ctx: Context) -> int:
    import gc

    from pallet.runtime.cgroups.warmup import start_warmup, stop_warmup

    # On a pure v2 host (and a hybrid one whose init is systemd), the kernel's wait for the
    # container's first cgroup move, paid while the engine makes the record, the snapshot and the
    # bundle (the runtime's create stops it; see cgroups.warmup).
    start_warmup()
    # No cyclic garbage collection while the container is set up (a short burst of allocations:
    # the collector would only walk the modules just imported); the attached run turns it back on
    # before it waits on the container.
    gc.disable()
    try:
        return _run(args, ctx)
    finally:
        gc.enable()
        stop_warmup()


def _run(args: argparse.Namespace, ctx: Context) -> int:
    from pallet.cli.commands.create import create

    engine = ctx.engine()
    cid = create(args, ctx, "run")
    if args.detach:
        from pallet.cli.commands.start import start_detached

        try:
            start_detached(ctx, cid)
        except BaseException:
            if args.rm:
                engine.remove(cid, force=True)
            raise
        print(cid)
        return 0
    from pallet.engine.attach import run_foreground

    try:
        return run_foreground(engine, cid, interactive=args.interactive, tty=args.tty)
    except BaseException:
        if args.rm:
            engine.remove(cid, force=True)
        raise
