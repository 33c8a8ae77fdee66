"""`pallet update`: change the resource limits (and restart policy) of containers, live if running."""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse

    from pallet.cli.main import Context


def configure(parser: argparse.ArgumentParser) -> None:
    from pallet.cli.commands._runopts import add_run_flags

    add_run_flags(parser, create=False)
    parser.add_argument("containers", nargs="+", metavar="CONTAINER")


def run(args: argparse.Namespace, ctx: Context) -> int:
    import json
    import os

    from pallet.cli.commands._common import each
    from pallet.cli.commands._runopts import resource_fields
    from pallet.engine.create import check_hostconfig
    from pallet.engine.specgen import resources
    from pallet.errors import ConfigError

    engine = ctx.engine()
    try:
        changes = resource_fields(args)
    except ConfigError as exc:  # a flag's value: exit 125, as docker's flag errors
        from pallet.cli.main import UsageError

        raise UsageError(str(exc), "update", hint=False) from None
    if not changes:
        raise ConfigError("you must provide one or more flags when using this command")

    def update(name: str) -> str:
        cid = engine.store.resolve(name)
        with engine.store.lock(cid):
            record = engine.store.read(cid)
            hc = dict(record["HostConfig"])
            hc.update(changes)
            if "Memory" in changes and "MemorySwap" not in changes and hc.get("MemorySwap", 0) not in (0, -1) \
                    and hc["MemorySwap"] < hc["Memory"]:
                hc["MemorySwap"] = 2 * hc["Memory"]
            warnings: list[str] = []
            check_hostconfig(hc, warnings)
            for warning in warnings:
                ctx.warn(warning)
            if record["State"]["Running"]:
                res = resources(hc)
                res.pop("devices", None)
                rundir = engine.rundir(cid)
                os.makedirs(rundir, exist_ok=True)
                path = os.path.join(rundir, "update.json")
                with open(path, "w") as f:
                    json.dump(res, f)
                engine.runtime(hc.get("Runtime") or engine.default_runtime()).update(cid, path)
            record["HostConfig"] = hc
            engine.store.write(record)
        engine.event(record, "update")
        return name

    return each(args.containers, update)
