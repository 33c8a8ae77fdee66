"""`pallet top`: the processes of a container, as the host's ps shows them (ps options allowed)."""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse

    from pallet.cli.main import Context


def configure(parser: argparse.ArgumentParser) -> None:
    import argparse

    parser.add_argument("container", metavar="CONTAINER")
    parser.add_argument("ps_args", nargs=argparse.REMAINDER, metavar="[ps OPTIONS]")


def container_pids(cgroups_path: str) -> set[int]:
    """Every process in the container's cgroup (pids hierarchy, else the unified one)."""
    rel = cgroups_path.lstrip("/")
    for base in ("/sys/fs/cgroup/pids", "/sys/fs/cgroup/memory", "/sys/fs/cgroup/unified", "/sys/fs/cgroup"):
        try:
            with open(f"{base}/{rel}/cgroup.procs") as f:
                return {int(p) for p in f.read().split()}
        except OSError:
            continue
    return set()


def run(args: argparse.Namespace, ctx: Context) -> int:
    import subprocess

    from pallet.engine import bundle
    from pallet.errors import ConfigError, ConflictError

    engine = ctx.engine()
    record = engine.get(args.container)
    if not record["State"]["Running"]:
        raise ConflictError(f"Container {record['Id']} is not running")
    pids = container_pids(bundle.cgroups_path(engine, record)) or {int(record["State"]["Pid"])}
    ps_args = args.ps_args or ["-ef"]
    proc = subprocess.run(["ps", *ps_args], capture_output=True, text=True)
    if proc.returncode != 0:
        raise ConfigError(f"ps {' '.join(ps_args)} failed: {proc.stderr.strip()}")
    lines = proc.stdout.splitlines()
    header = lines[0].split()
    if "PID" not in header:
        raise ConfigError(f"ps {' '.join(ps_args)}: the output has no PID column (add -o pid)")
    col = header.index("PID")
    print(lines[0])
    for line in lines[1:]:
        fields = line.split()
        if len(fields) > col and fields[col].isdigit() and int(fields[col]) in pids:
            print(line)
    return 0
