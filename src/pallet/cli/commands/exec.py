"""`pallet exec`: run a command in a running container, through the container's runtime (runc exec)."""

from __future__ import annotations

import os

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse

    from pallet.cli.main import Context


def configure(parser: argparse.ArgumentParser) -> None:
    import argparse

    parser.add_argument("-d", "--detach", action="store_true", help="Detached mode: run command in the background")
    parser.add_argument("-i", "--interactive", action="store_true", help="Keep STDIN open even if not attached")
    parser.add_argument("-t", "--tty", action="store_true", help="Allocate a pseudo-TTY")
    parser.add_argument("-e", "--env", action="append", default=[], help="Set environment variables")
    parser.add_argument("-w", "--workdir", help="Working directory inside the container")
    parser.add_argument("-u", "--user", help="Username or UID (format: <name|uid>[:<group|gid>])")
    parser.add_argument("--privileged", action="store_true", help="Give extended privileges to the command")
    parser.add_argument("container", metavar="CONTAINER")
    parser.add_argument("command", nargs=argparse.REMAINDER, metavar="COMMAND [ARG...]")


def run(args: argparse.Namespace, ctx: Context) -> int:
    import json

    from pallet.engine import bundle, specgen
    from pallet.errors import ConfigError, ConflictError

    engine = ctx.engine()
    record = engine.get(args.container)
    cid = record["Id"]
    if not record["State"]["Running"]:
        raise ConflictError(f"Container {cid} is not running")
    if record["State"]["Paused"]:
        raise ConflictError(f"Container {cid} is paused, unpause the container before exec")
    if not args.command:
        raise ConfigError("exec needs a command to run (pallet exec CONTAINER COMMAND [ARG...])")
    with open(os.path.join(engine.store.path(cid, "bundle"), "config.json")) as f:
        spec = json.load(f)
    process = dict(spec["process"])
    process["args"] = list(args.command)
    env = {e.partition("=")[0]: e for e in process.get("env", [])}
    for item in args.env:
        env[item.partition("=")[0]] = item
    process["env"] = list(env.values())
    process["terminal"] = bool(args.tty) and not args.detach  # nobody would read a detached pty
    if args.workdir:
        process["cwd"] = args.workdir
    if args.user:
        process["user"] = specgen.resolve_user(bundle.rootfs_dir(engine, cid), args.user)
    if args.privileged:
        from pallet.engine.security.capabilities import all_capabilities

        every = all_capabilities()
        process["capabilities"] = {"bounding": every, "effective": every, "permitted": every}
    rundir = engine.rundir(cid)
    os.makedirs(rundir, exist_ok=True)
    pfile = os.path.join(rundir, f"exec-{os.getpid()}.json")
    with open(pfile, "w") as f:
        json.dump(process, f)
    rt = engine.runtime(record["HostConfig"].get("Runtime") or engine.default_runtime())
    try:
        if args.detach:
            # The store's supervisor runs it: the parent that reaps it when it exits.
            from pallet.cli.commands.start import supervisor_request

            supervisor_request(ctx, {"op": "exec", "id": cid, "process": pfile})
            code = 0
        else:
            code = rt.exec(cid, pfile, detach=False, tty=args.tty, interactive=args.interactive)
    finally:
        os.unlink(pfile)
    engine.event(record, "exec_start", execID=str(os.getpid()))
    return code
