"""pallet-runtime spec: write a default config.json."""

from __future__ import annotations

import os

from pallet.runtime.cliparse import Option, UsageError

USAGE = "pallet-runtime spec [command options]"
OPTIONS = (
    Option("--bundle", "-b", value=True, default="", help="path to the root of the bundle directory"),
    Option("--rootless", help="generate a configuration for a rootless container"),
)


def run(g: object, opts: dict[str, object], args: list[str]) -> int:
    import json

    from pallet.oci.defaults import default_spec

    if args:
        raise UsageError(f"'spec' takes no arguments, got: {' '.join(args)}")
    bundle = str(opts["bundle"]) or "."
    path = os.path.join(bundle, "config.json")
    if os.path.exists(path):
        raise UsageError(f"File {path} exists. Remove it first")
    spec = default_spec(rootless=bool(opts["rootless"]))
    with open(path, "x") as f:
        f.write(json.dumps(spec, indent="\t") + "\n")
    return 0
