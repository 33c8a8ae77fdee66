"""`pallet commit` / `pallet container commit`: a container's changes as a new image."""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse

    from pallet.cli.main import Context

IMAGE_CONFIG_KEYS = ("Cmd", "Entrypoint", "Env", "WorkingDir", "User", "ExposedPorts", "Volumes", "Labels",
                     "StopSignal", "OnBuild", "Healthcheck", "Shell")


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-a", "--author", default="", help='Author (e.g., "John Hannibal Smith <hannibal@a-team.com>")')
    parser.add_argument("-c", "--change", action="append", default=[], help="Apply Dockerfile instruction to the created image")
    parser.add_argument("-m", "--message", default="", help="Commit message")
    parser.add_argument("-p", "--pause", default=True, type=lambda v: v.lower() not in ("false", "0"),
                        help="Pause container during commit (default true)")
    parser.add_argument("container", metavar="CONTAINER")
    parser.add_argument("reference", nargs="?", metavar="REPOSITORY[:TAG]")


def run(args: argparse.Namespace, ctx: Context) -> int:
    from pallet.cli.commands._images import images, normalise, snapshotter
    from pallet.image.commit import commit_container

    engine = ctx.engine()
    record = engine.get(args.container)
    store = images(ctx)
    base = store.get(record["Image"])
    refs = [normalise(args.reference, source="pallet commit")] if args.reference else []
    config = {k: v for k, v in (record.get("Config") or {}).items() if k in IMAGE_CONFIG_KEYS}
    paused = False
    if args.pause and record["State"].get("Running") and not record["State"].get("Paused"):
        engine.pause(record["Id"])
        paused = True
    try:
        image = commit_container(store, snapshotter(ctx), record["Id"], base, refs=refs, message=args.message,
                                 author=args.author, changes=args.change, container_config=config,
                                 container_id=record["Id"])
    finally:
        if paused:
            engine.unpause(record["Id"])
    print(image.id)
    return 0
