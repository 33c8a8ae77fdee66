"""`pallet stats`: CPU %, memory, net and block I/O and pids per container, computed as docker does."""

from __future__ import annotations

import sys
import time

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse
    from typing import Any

    from pallet.cli.main import Context
    from pallet.engine.service import Engine

DEFAULT_TABLE = ("table {{.ID}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.MemPerc}}\t{{.NetIO}}\t{{.BlockIO}}"
                 "\t{{.PIDs}}")
HEADERS = {"ID": "CONTAINER ID", "Container": "CONTAINER", "Name": "NAME", "CPUPerc": "CPU %",
           "MemUsage": "MEM USAGE / LIMIT", "MemPerc": "MEM %", "NetIO": "NET I/O", "BlockIO": "BLOCK I/O",
           "PIDs": "PIDS"}


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-a", "--all", action="store_true", help="Show all containers (default shows just running)")
    parser.add_argument("--format", help="Format output using a custom template")
    parser.add_argument("--no-stream", action="store_true", help="Disable streaming stats and only pull the first result")
    parser.add_argument("--no-trunc", action="store_true", help="Do not truncate output")
    parser.add_argument("containers", nargs="*", metavar="CONTAINER")


def bytes_size(n: float) -> str:
    """go-units BytesSize: binary units, 4 significant digits (1.5MiB)."""
    units = ("B", "KiB", "MiB", "GiB", "TiB", "PiB")
    i = 0
    while n >= 1024 and i < len(units) - 1:
        n /= 1024
        i += 1
    return f"{n:.4g}{units[i]}"


def human_size(n: float) -> str:
    """go-units HumanSize: decimal units, 4 significant digits (1.2kB)."""
    units = ("B", "kB", "MB", "GB", "TB", "PB")
    i = 0
    while n >= 1000 and i < len(units) - 1:
        n /= 1000
        i += 1
    return f"{n:.4g}{units[i]}"


def system_cpu_ns() -> int:
    with open("/proc/stat") as f:
        fields = f.readline().split()[1:8]
    return sum(int(x) for x in fields) * 10_000_000  # USER_HZ 100 -> ns


def sample(engine: Engine, record: dict[str, Any]) -> dict[str, Any] | None:
    from pallet.engine import bundle
    from pallet.engine.networking import net_io
    from pallet.runtime.cgroups import new_manager

    if not record["State"]["Running"]:
        return None
    try:
        st = new_manager(bundle.cgroups_path(engine, record), record["Id"]).stats()
    except Exception:
        return None
    return {"cpu": st.cpu.usage_total, "system": system_cpu_ns(), "mem": st.memory, "pids": st.pids.current,
            "blkio": st.blkio, "net": net_io(engine, record)}


def row(record: dict[str, Any], pre: dict[str, Any] | None, cur: dict[str, Any] | None, trunc: bool) -> dict[str, Any]:
    import os

    cid = record["Id"][:12] if trunc else record["Id"]
    name = record["Name"].lstrip("/")
    if cur is None:
        return {"ID": cid, "Container": cid, "Name": name, "CPUPerc": "0.00%", "MemUsage": "0B / 0B",
                "MemPerc": "0.00%", "NetIO": "0B / 0B", "BlockIO": "0B / 0B", "PIDs": "0"}
    cpu = 0.0
    if pre is not None:
        sys_delta = cur["system"] - pre["system"]
        if sys_delta > 0:
            cpu = (cur["cpu"] - pre["cpu"]) / sys_delta * (os.cpu_count() or 1) * 100
    mem = cur["mem"]
    inactive = mem.raw.get("total_inactive_file", mem.raw.get("inactive_file", 0))
    used = max(mem.usage - inactive, 0)
    with open("/proc/meminfo") as f:
        host = int(f.readline().split()[1]) * 1024
    limit = mem.limit if mem.limit and mem.limit < host else host
    read = sum(e.value for e in cur["blkio"].io_service_bytes if e.op.lower() == "read")
    write = sum(e.value for e in cur["blkio"].io_service_bytes if e.op.lower() == "write")
    rx, tx = cur["net"]
    return {"ID": cid, "Container": cid, "Name": name, "CPUPerc": f"{cpu:.2f}%",
            "MemUsage": f"{bytes_size(used)} / {bytes_size(limit)}", "MemPerc": f"{used / limit * 100 if limit else 0:.2f}%",
            "NetIO": f"{human_size(rx)} / {human_size(tx)}", "BlockIO": f"{human_size(read)} / {human_size(write)}",
            "PIDs": str(cur["pids"])}


def run(args: argparse.Namespace, ctx: Context) -> int:
    from pallet.cli.commands._common import render, table

    engine = ctx.engine()
    fmt = args.format or DEFAULT_TABLE
    live = not args.no_stream and sys.stdout.isatty()
    prev: dict[str, dict[str, Any] | None] = {}
    while True:
        if args.containers:
            records = [engine.get(n) for n in args.containers]
        else:
            records = engine.list(all=args.all)
        if not prev:
            prev = {r["Id"]: sample(engine, r) for r in records}
            time.sleep(0.5)
        rows = []
        for r in records:
            cur = sample(engine, r)
            rows.append(row(r, prev.get(r["Id"]), cur, not args.no_trunc))
            prev[r["Id"]] = cur
        if live:
            sys.stdout.write("\033[2J\033[H")
        if fmt == "json":
            import json

            for item in rows:
                print(json.dumps(item))
        elif fmt.startswith("table"):
            from pallet.cli.commands.ps import _field

            body = fmt[len("table"):].strip()
            lines = [[HEADERS.get(_field(c), _field(c).upper()) for c in body.split("\t")]]
            lines += [render(body, item).split("\t") for item in rows]
            sys.stdout.write(table(lines))
        else:
            for item in rows:
                print(render(fmt, item))
        sys.stdout.flush()
        if args.no_stream or not live:
            return 0
        time.sleep(1)
