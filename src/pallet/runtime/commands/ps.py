"""pallet-runtime ps: the processes of a container (from its cgroup)."""

from __future__ import annotations

import sys

from pallet.runtime.cliparse import Option, UsageError

USAGE = "pallet-runtime ps [command options] <container-id> [ps options]"
OPTIONS = (Option("--format", "-f", value=True, default="table", help="select one of: table or json"),)
STOP_AT_POSITIONAL = True


def run(g: object, opts: dict[str, object], args: list[str]) -> int:
    from pallet.runtime.container import Container

    if not args:
        raise UsageError("'ps' requires a container id")
    c = Container.load(g.root, args[0])  # type: ignore[attr-defined]
    cg = c.cgroup()
    pids: list[int] = sorted(cg.pids()) if cg is not None else []  # type: ignore[attr-defined]
    fmt = str(opts["format"])
    if fmt == "json":
        import json

        sys.stdout.write(json.dumps(pids) + "\n")
        return 0
    if fmt != "table":
        raise UsageError(f"--format {fmt!r} is not supported (allowed: table, json)")
    import subprocess

    ps_args = args[1:] or ["-ef"]
    out = subprocess.run(["ps", *ps_args], capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise UsageError(f"ps {' '.join(ps_args)} failed: {out.stderr.strip()}")
    lines = out.stdout.splitlines()
    if not lines:
        return 0
    header = lines[0]
    cols = header.split()
    if "PID" not in cols:
        raise UsageError(f"ps {' '.join(ps_args)}: its output has no PID column")
    idx = cols.index("PID")
    sys.stdout.write(header + "\n")
    wanted = set(pids)
    for line in lines[1:]:
        fields = line.split()
        if len(fields) > idx and fields[idx].isdigit() and int(fields[idx]) in wanted:
            sys.stdout.write(line + "\n")
    return 0
