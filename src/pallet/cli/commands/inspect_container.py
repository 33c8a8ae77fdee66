"""`pallet container inspect`: docker's inspect document of containers."""

from __future__ import annotations

import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse
    from typing import Any

    from pallet.cli.main import Context
    from pallet.engine.service import Engine


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-f", "--format", help="Format output using a custom template")
    parser.add_argument("-s", "--size", action="store_true", help="Display total file sizes")
    parser.add_argument("names", nargs="+", metavar="CONTAINER")


def document(engine: Engine, record: dict[str, Any], size: bool = False) -> dict[str, Any]:
    """The inspect document of ``record`` (docker's shape; pallet's private fields left out)."""
    from pallet.engine import bundle, images

    doc = {k: v for k, v in record.items() if k != "Pallet"}
    cid = record["Id"]
    try:
        doc["GraphDriver"] = images.graph_driver(engine.root, cid, bundle.rootfs_dir(engine, cid))
    except Exception:
        doc["GraphDriver"] = {"Name": "overlay2", "Data": {}}
    state = dict(record["State"])
    state.pop("Health", None)
    doc["State"] = state
    doc["Mounts"] = [
        {k: v for k, v in m.items() if k != "Anonymous"} | (
            {"Source": f"{engine.root}/volumes/{m['Name']}/_data"} if m.get("Type") == "volume" else {})
        for m in record.get("Mounts") or []
    ]
    doc["Config"] = dict(record["Config"])
    if size:
        from pallet.engine.sizes import container_sizes

        doc["SizeRw"], doc["SizeRootFs"] = container_sizes(engine.root, record)
    return doc


def run(args: argparse.Namespace, ctx: Context) -> int:
    from pallet.cli.main import exit_code_for
    from pallet.errors import PalletError

    engine = ctx.engine()
    docs = []
    failed = False
    for name in args.names:
        try:
            docs.append(document(engine, engine.get(name), args.size))
        except PalletError as exc:
            failed = True
            print(exit_code_for(exc)[1], file=sys.stderr)
    emit(docs, args.format)
    return 1 if failed else 0


def emit(docs: list[Any], fmt: str | None) -> None:
    import json

    if fmt and fmt != "json":
        from pallet.cli.format import render_each

        sys.stdout.write(render_each(fmt, docs))  # as docker: a missing key is an error, not "<no value>"
        return
    print(json.dumps(docs, indent=4, ensure_ascii=False))
