"""pallet-runtime list."""

from __future__ import annotations

import sys

from pallet.runtime.cliparse import Option, UsageError

USAGE = "pallet-runtime list [command options]"
OPTIONS = (
    Option("--format", "-f", value=True, default="table", help="select one of: table or json"),
    Option("--quiet", "-q", help="display only container IDs"),
)


def run(g: object, opts: dict[str, object], args: list[str]) -> int:
    from pallet.runtime.lifecycle import list_containers

    fmt = str(opts["format"])
    if fmt not in ("table", "json"):
        raise UsageError(f"--format {fmt!r} is not supported (allowed: table, json)")
    containers = list_containers(g.root)  # type: ignore[attr-defined]
    if opts["quiet"]:
        for c in containers:
            sys.stdout.write(c.id + "\n")
        return 0
    states = [c.runc_state() for c in containers]
    if fmt == "json":
        import json

        sys.stdout.write(json.dumps(states) + "\n")
        return 0
    rows = [("ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER")]
    rows += [(str(s["id"]), str(s["pid"]), str(s["status"]), str(s["bundle"]), str(s["created"]), "root") for s in states]
    widths = [max(len(r[i]) for r in rows) for i in range(6)]
    for r in rows:
        sys.stdout.write("   ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip() + "\n")
    return 0
