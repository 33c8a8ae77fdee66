"""linux.resources written to a cgroup v2 directory (memory.max, cpu.max, io.max, ...)."""

from __future__ import annotations

import os

from pallet.errors import ConfigError
from pallet.runtime.cgroups.base import read_or, write
from pallet.runtime.cgroups.convert import blkio_to_io_weight, shares_to_weight, swap_v2

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from pallet.runtime.cgroups.v2 import V2Manager

_THROTTLES = (
    ("throttleReadBpsDevice", "rbps"),
    ("throttleWriteBpsDevice", "wbps"),
    ("throttleReadIOPSDevice", "riops"),
    ("throttleWriteIOPSDevice", "wiops"),
)


def _max(v: int) -> str:
    return "max" if v < 0 else str(v)


def apply(mgr: V2Manager, r: dict[str, Any]) -> None:
    d = mgr.dir
    need: set[str] = set()
    if r.get("memory"):
        need.add("memory")
    if r.get("cpu"):
        need.add("cpu")
        if r["cpu"].get("cpus") or r["cpu"].get("mems"):
            need.add("cpuset")
    if r.get("pids"):
        need.add("pids")
    if r.get("blockIO"):
        need.add("io")
    if r.get("hugepageLimits"):
        need.add("hugetlb")
    if r.get("rdma"):
        need.add("rdma")
    if need:
        mgr.ensure_controllers(need)
    if r.get("memory"):
        memory(mgr, d, r["memory"])
    if r.get("cpu"):
        cpu(d, r["cpu"])
    if r.get("pids") and r["pids"].get("limit") not in (None, 0):
        write(os.path.join(d, "pids.max"), _max(r["pids"]["limit"]))
    if r.get("blockIO"):
        blkio(mgr, d, r["blockIO"])
    for h in r.get("hugepageLimits") or ():
        hugetlb(d, h["pageSize"], h["limit"])
    for dev, lim in (r.get("rdma") or {}).items():
        rdma(d, dev, lim)
    if r.get("network"):
        raise ConfigError("linux.resources.network (net_cls, net_prio) does not exist on cgroup v2")
    for key, value in (r.get("unified") or {}).items():
        if "/" in key or key.startswith("."):
            raise ConfigError(f"linux.resources.unified key {key!r} is not a cgroup file name")
        write(os.path.join(d, key), value)
    if r.get("devices") is not None:
        devices(d, r["devices"])


def memory(mgr: V2Manager, d: str, m: dict[str, Any]) -> None:
    limit, swap = m.get("limit"), m.get("swap")
    swap_max = swap_v2(swap, limit)
    if swap_max is not None:
        write(os.path.join(d, "memory.swap.max"), _max(swap_max))
    if limit not in (None, 0):
        write(os.path.join(d, "memory.max"), _max(limit))
    res = m.get("reservation")
    if res not in (None, 0):
        write(os.path.join(d, "memory.low"), _max(res))
    if m.get("kernel") or m.get("kernelTCP"):
        mgr._warn("linux.resources.memory.kernel and kernelTCP are ignored: the kernel no longer limits them")
    if m.get("swappiness") is not None:
        mgr._warn("linux.resources.memory.swappiness is ignored: cgroup v2 has no per-cgroup swappiness")
    if m.get("disableOOMKiller"):
        mgr._warn("linux.resources.memory.disableOOMKiller is ignored: cgroup v2 cannot disable the OOM killer")


def cpu(d: str, c: dict[str, Any]) -> None:
    shares = c.get("shares")
    if shares:
        write(os.path.join(d, "cpu.weight"), str(shares_to_weight(shares)))
    quota, period = c.get("quota"), c.get("period")
    if quota not in (None, 0) or period not in (None, 0):
        cur = read_or(os.path.join(d, "cpu.max"), "max 100000").split()
        q = cur[0] if quota in (None, 0) else _max(quota)
        p = cur[1] if period in (None, 0) else str(period)
        write(os.path.join(d, "cpu.max"), f"{q} {p}")
    if c.get("burst") is not None:
        write(os.path.join(d, "cpu.max.burst"), str(c["burst"]))
    if c.get("idle") is not None:
        write(os.path.join(d, "cpu.idle"), str(c["idle"]))
    if c.get("cpus"):
        write(os.path.join(d, "cpuset.cpus"), c["cpus"])
    if c.get("mems"):
        write(os.path.join(d, "cpuset.mems"), c["mems"])
    if c.get("realtimeRuntime") or c.get("realtimePeriod"):
        raise ConfigError("linux.resources.cpu.realtimeRuntime/realtimePeriod are not supported on cgroup v2")


def blkio(mgr: V2Manager, d: str, b: dict[str, Any]) -> None:
    bfq = os.path.exists(os.path.join(d, "io.bfq.weight"))
    w = b.get("weight")
    if w:
        if bfq:
            write(os.path.join(d, "io.bfq.weight"), str(w))
        else:
            write(os.path.join(d, "io.weight"), f"default {blkio_to_io_weight(w)}")
    if b.get("leafWeight"):
        mgr._warn("linux.resources.blockIO.leafWeight is ignored: the kernel no longer has it")
    for wd in b.get("weightDevice") or ():
        if wd.get("weight"):
            if bfq:
                write(os.path.join(d, "io.bfq.weight"), f"{wd['major']}:{wd['minor']} {wd['weight']}")
            else:
                write(os.path.join(d, "io.weight"), f"{wd['major']}:{wd['minor']} {blkio_to_io_weight(wd['weight'])}")
    lines: dict[str, list[str]] = {}
    for key, name in _THROTTLES:
        for t in b.get(key) or ():
            dev = f"{t['major']}:{t['minor']}"
            lines.setdefault(dev, []).append(f"{name}={t['rate'] or 'max'}")
    for dev, parts in lines.items():
        write(os.path.join(d, "io.max"), f"{dev} {' '.join(parts)}")


def hugetlb(d: str, size: str, limit: int) -> None:
    write(os.path.join(d, f"hugetlb.{size}.max"), _max(limit))
    rsvd = os.path.join(d, f"hugetlb.{size}.rsvd.max")
    if os.path.exists(rsvd):
        write(rsvd, _max(limit))


def rdma(d: str, dev: str, lim: dict[str, Any]) -> None:
    parts = []
    if lim.get("hcaHandles") is not None:
        parts.append(f"hca_handle={lim['hcaHandles']}")
    if lim.get("hcaObjects") is not None:
        parts.append(f"hca_object={lim['hcaObjects']}")
    if parts:
        write(os.path.join(d, "rdma.max"), f"{dev} {' '.join(parts)}")


def devices(d: str, rules: list[dict[str, Any]]) -> None:
    """Load the rules as an eBPF device program and attach it to the cgroup in place of the old one."""
    from pallet._linux.bpf import device_program, replace_device_program
    from pallet.errors import RuntimeFailure
    from pallet.runtime.cgroups.devices import parse_rules

    prog = device_program(parse_rules(rules))
    try:
        replace_device_program(d, prog)
    except OSError as e:
        raise RuntimeFailure(f"cgroups: cannot attach the device program to {d}: {e}", step="cgroups",
                             errno=e.errno or 0) from None
