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

def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-a", "--all", action="store_true", help="Show all containers (default shows just running)")
    parser.add_argument("--format", help="Format output using a custom template")
    parser.add_argument("--no-stream", action="store_true", help="Disable streaming stats and only pull the first result")
    parser.add_argument("--no-trunc", action="store_true", help="Do not truncate output")
    parser.add_argument("containers", nargs="*", metavar="CONTAINER")


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

    from pallet.cli.units import bytes_size
    from pallet.cli.units import human_size_with_precision as hsize

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
            "NetIO": f"{hsize(rx, 3)} / {hsize(tx, 3)}", "BlockIO": f"{hsize(read, 3)} / {hsize(write, 3)}",
            "PIDs": str(cur["pids"])}


def run(args: argparse.Namespace, ctx: Context) -> int:
    from pallet.cli import format as fmtmod

    engine = ctx.engine()
    chosen = fmtmod.choose_format(args.format or "", fmtmod.STATS)
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
        text = fmtmod.render_json_lines(rows) if chosen == "json" else fmtmod.render_list(chosen, rows, fmtmod.STATS)
        if live:
            text = "\033[2J\033[H" + text
        sys.stdout.write(text)
        sys.stdout.flush()
        if args.no_stream or not live:
            return 0
        time.sleep(1)
