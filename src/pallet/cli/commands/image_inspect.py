"""`pallet image inspect`: images as docker's JSON (Id, RepoTags, RepoDigests, Config, RootFS, ...)."""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse
    from typing import Any

    from pallet.cli.main import Context
    from pallet.image.store import Image


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-f", "--format", help="Format output using a custom template")
    parser.add_argument("images", nargs="+", metavar="IMAGE")


def document(ctx: Context, image: Image) -> dict[str, Any]:
    """docker's inspect document of ``image``."""
    from pallet.cli.commands._images import familiar, image_size, images, snapshotter

    store = images(ctx)
    cfg = store.config(image)
    snap = snapshotter(ctx)
    graph: dict[str, Any] = {"Name": "overlay2" if snap.driver == "overlay" else snap.driver, "Data": None}
    top = image.chain_id
    if top and snap.exists(top):
        data = {"UpperDir": snap.upper_dir(top)}
        lowers = snap.lower_dirs(top)
        if lowers:
            data["LowerDir"] = ":".join(lowers)
        graph["Data"] = data
    size = image_size(ctx, image)
    config = cfg.get("config") or {}
    return {
        "Id": image.id,
        "RepoTags": [familiar(t) for t in image.repo_tags],
        "RepoDigests": [familiar(d) for d in image.repo_digests],
        "Parent": "",
        "Comment": (cfg.get("history") or [{}])[-1].get("comment", ""),
        "Created": cfg.get("created", ""),
        "Container": cfg.get("container", ""),
        "DockerVersion": cfg.get("docker_version", ""),
        "Author": cfg.get("author", ""),
        "Config": {"Env": None, "Cmd": None, "Entrypoint": None, "WorkingDir": "", "Labels": None, "User": "",
                   **config},
        "Architecture": cfg.get("architecture", ""),
        "Variant": cfg.get("variant"),
        "Os": cfg.get("os", ""),
        "Size": size,
        "VirtualSize": size,
        "GraphDriver": graph,
        "RootFS": {"Type": "layers", "Layers": list(image.diff_ids)},
        "Metadata": {"LastTagTime": "0001-01-01T00:00:00Z"},
    }


def run(args: argparse.Namespace, ctx: Context) -> int:
    import json
    import sys

    from pallet.cli.commands._common import render
    from pallet.cli.commands._images import find, images
    from pallet.cli.main import exit_code_for
    from pallet.errors import PalletError

    store = images(ctx)
    docs = []
    failed = False
    for name in args.images:
        try:
            docs.append(document(ctx, find(store, name)[0]))
        except PalletError as e:
            failed = True
            print(exit_code_for(e)[1], file=sys.stderr)
    if args.format:
        for d in docs:
            print(render(args.format, d))
    else:
        print(json.dumps(docs, indent=4, ensure_ascii=False))
    return 1 if failed else 0
