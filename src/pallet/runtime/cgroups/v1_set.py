"""linux.resources written to cgroup v1 hierarchies (memory.limit_in_bytes, cpu.cfs_quota_us, ...)."""

from __future__ import annotations

import errno
import os

from pallet.errors import ConfigError, RuntimeFailure
from pallet.runtime.cgroups.base import read_or, write

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from pallet.runtime.cgroups.v1 import V1Manager

_THROTTLES = (
    ("throttleReadBpsDevice", "blkio.throttle.read_bps_device"),
    ("throttleWriteBpsDevice", "blkio.throttle.write_bps_device"),
    ("throttleReadIOPSDevice", "blkio.throttle.read_iops_device"),
    ("throttleWriteIOPSDevice", "blkio.throttle.write_iops_device"),
)


def _dir(mgr: V1Manager, controller: str, field: str) -> str:
    d = mgr.dir(controller)
    if not d:
        raise ConfigError(f"{field} needs the {controller} cgroup controller, which this host does not offer")
    return d


def apply(mgr: V1Manager, r: dict[str, Any]) -> None:
    if r.get("memory"):
        memory(mgr, r["memory"])
    if r.get("cpu"):
        cpu(mgr, r["cpu"])
    if r.get("pids") and r["pids"].get("limit") not in (None, 0):
        lim = r["pids"]["limit"]
        write(os.path.join(_dir(mgr, "pids", "linux.resources.pids"), "pids.max"), "max" if lim < 0 else str(lim))
    if r.get("blockIO"):
        blkio(mgr, r["blockIO"])
    if r.get("hugepageLimits"):
        hugetlb(mgr, r["hugepageLimits"])
    net = r.get("network")
    if net:
        if net.get("classID") is not None:
            d = _dir(mgr, "net_cls", "linux.resources.network.classID")
            write(os.path.join(d, "net_cls.classid"), str(net["classID"]))
        for p in net.get("priorities") or ():
            d = _dir(mgr, "net_prio", "linux.resources.network.priorities")
            write(os.path.join(d, "net_prio.ifpriomap"), f"{p['name']} {p['priority']}")
    for dev, lim in (r.get("rdma") or {}).items():
        from pallet.runtime.cgroups.v2_set import rdma

        rdma(_dir(mgr, "rdma", "linux.resources.rdma"), dev, lim)
    if r.get("unified"):
        if not mgr.udir:
            raise ConfigError("linux.resources.unified needs the container's cgroup in the cgroup v2 (unified) "
                              + ("hierarchy, which it joins only when created with unified keys" if mgr.unified
                                 else "hierarchy, which this host does not have"))
        for key, value in r["unified"].items():
            if "/" in key or key.startswith("."):
                raise ConfigError(f"linux.resources.unified key {key!r} is not a cgroup file name")
            write(os.path.join(mgr.udir, key), value)
    if r.get("devices") is not None:
        from pallet.runtime.cgroups.devices import parse_rules, v1_writes

        d = _dir(mgr, "devices", "linux.resources.devices")
        for name, line in v1_writes(parse_rules(r["devices"])):
            write(os.path.join(d, name), line)


def _limit(v: int) -> str:
    return "-1" if v < 0 else str(v)


def memory(mgr: V1Manager, m: dict[str, Any]) -> None:
    d = _dir(mgr, "memory", "linux.resources.memory")
    limit, swap = m.get("limit"), m.get("swap")
    lim_f = os.path.join(d, "memory.limit_in_bytes")
    sw_f = os.path.join(d, "memory.memsw.limit_in_bytes")
    if limit in (None, 0):
        limit = None
    if swap in (None, 0):
        swap = None
    if limit is not None and swap is not None:
        # The kernel keeps limit <= memsw at every step: raise memsw first when it grows.
        cur = int(read_or(lim_f, "-1").strip() or "-1")
        if swap == -1 or swap >= cur:
            write(sw_f, _limit(swap))
            write(lim_f, _limit(limit))
        else:
            write(lim_f, _limit(limit))
            write(sw_f, _limit(swap))
    elif limit is not None:
        try:
            write(lim_f, _limit(limit))
        except RuntimeFailure as e:
            if e.errno != errno.EINVAL:
                raise
            memsw = read_or(sw_f).strip()
            raise ConfigError(
                f"linux.resources.memory.limit {limit} is above the container's memory+swap limit {memsw}: "
                "give memory.swap too"
            ) from None
    elif swap is not None:
        write(sw_f, _limit(swap))
    res = m.get("reservation")
    if res not in (None, 0):
        write(os.path.join(d, "memory.soft_limit_in_bytes"), _limit(res))
    if m.get("kernel") or m.get("kernelTCP"):
        mgr._warn("linux.resources.memory.kernel and kernelTCP are ignored: the kernel no longer limits them")
    if m.get("swappiness") is not None:
        write(os.path.join(d, "memory.swappiness"), str(m["swappiness"]))
    if m.get("disableOOMKiller") is not None:
        write(os.path.join(d, "memory.oom_control"), "1" if m["disableOOMKiller"] else "0")


def cpu(mgr: V1Manager, c: dict[str, Any]) -> None:
    if c.get("shares"):
        write(os.path.join(_dir(mgr, "cpu", "linux.resources.cpu.shares"), "cpu.shares"), str(c["shares"]))
    quota, period = c.get("quota"), c.get("period")
    if quota not in (None, 0) or period not in (None, 0):
        d = _dir(mgr, "cpu", "linux.resources.cpu.quota")
        writes = []
        if period not in (None, 0):
            writes.append(("cpu.cfs_period_us", str(period)))
        if quota not in (None, 0):
            writes.append(("cpu.cfs_quota_us", str(quota if quota > 0 else -1)))
        try:
            for name, value in writes:
                write(os.path.join(d, name), value)
        except RuntimeFailure as e:
            # A shorter period can be refused while the old quota is larger than it: quota first.
            if e.errno != errno.EINVAL or len(writes) < 2:
                raise
            for name, value in reversed(writes):
                write(os.path.join(d, name), value)
    if c.get("burst") is not None:
        write(os.path.join(_dir(mgr, "cpu", "linux.resources.cpu.burst"), "cpu.cfs_burst_us"), str(c["burst"]))
    if c.get("realtimePeriod"):
        d = _dir(mgr, "cpu", "linux.resources.cpu.realtimePeriod")
        write(os.path.join(d, "cpu.rt_period_us"), str(c["realtimePeriod"]))
    if c.get("realtimeRuntime"):
        d = _dir(mgr, "cpu", "linux.resources.cpu.realtimeRuntime")
        write(os.path.join(d, "cpu.rt_runtime_us"), str(c["realtimeRuntime"]))
    if c.get("idle") is not None:
        write(os.path.join(_dir(mgr, "cpu", "linux.resources.cpu.idle"), "cpu.idle"), str(c["idle"]))
    if c.get("cpus"):
        write(os.path.join(_dir(mgr, "cpuset", "linux.resources.cpu.cpus"), "cpuset.cpus"), c["cpus"])
    if c.get("mems"):
        write(os.path.join(_dir(mgr, "cpuset", "linux.resources.cpu.mems"), "cpuset.mems"), c["mems"])


def blkio(mgr: V1Manager, b: dict[str, Any]) -> None:
    d = _dir(mgr, "blkio", "linux.resources.blockIO")
    # CFQ's blkio.weight is gone from recent kernels; BFQ's takes the same 10-1000 range.
    prefix = "blkio." if os.path.exists(os.path.join(d, "blkio.weight")) else "blkio.bfq."
    if b.get("weight"):
        write(os.path.join(d, prefix + "weight"), str(b["weight"]))
    if b.get("leafWeight"):
        mgr._warn("linux.resources.blockIO.leafWeight is ignored: the kernel no longer has it")
    for wd in b.get("weightDevice") or ():
        if wd.get("weight"):
            write(os.path.join(d, prefix + "weight_device"), f"{wd['major']}:{wd['minor']} {wd['weight']}")
    for key, name in _THROTTLES:
        for t in b.get(key) or ():
            write(os.path.join(d, name), f"{t['major']}:{t['minor']} {t['rate']}")


def hugetlb(mgr: V1Manager, limits: list[dict[str, Any]]) -> None:
    d = mgr.hugetlb_dir()
    if not d:
        if mgr.unified and not mgr.udir and "hugetlb" in mgr.unified_controllers():
            raise ConfigError("linux.resources.hugepageLimits: hugetlb is bound to the cgroup v2 (unified) "
                              "hierarchy here, which the container joins only when created with hugepage limits")
        raise ConfigError("linux.resources.hugepageLimits needs the hugetlb cgroup controller, which this host "
                          "does not offer")
    if d == mgr.udir:
        from pallet.runtime.cgroups.v2_set import hugetlb as v2_hugetlb

        for h in limits:
            v2_hugetlb(d, h["pageSize"], h["limit"])
        return
    for h in limits:
        write(os.path.join(d, f"hugetlb.{h['pageSize']}.limit_in_bytes"), _limit(h["limit"]))
        rsvd = os.path.join(d, f"hugetlb.{h['pageSize']}.rsvd.limit_in_bytes")
        if os.path.exists(rsvd):
            write(rsvd, _limit(h["limit"]))
