"""Validation of linux.resources against the host, before any cgroup is created.

Each error is a ConfigError naming the field, the value and what is allowed.  Only the fields that
are present are looked at, so that a spec without resources costs nothing here.
"""

from __future__ import annotations

import os

from pallet.errors import ConfigError
from pallet.runtime.cgroups.convert import format_list, host_page_sizes, parse_list

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from pallet.runtime.cgroups.base import CgroupManager

MIN_MEMORY = 6 * 1024 * 1024  # docker's minimum memory limit
R = "linux.resources"


def _int(section: dict[str, Any], key: str, field: str) -> int | None:
    v = section.get(key)
    if v is None:
        return None
    if isinstance(v, bool) or not isinstance(v, int):
        raise ConfigError(f"{field} {v!r} is not a number")
    return v


def _need(avail: set[str], controller: str, field: str, mode: str) -> None:
    if controller not in avail:
        raise ConfigError(
            f"{field} needs the {controller} cgroup controller, which this host does not offer "
            f"(cgroups {mode}; controllers available: {', '.join(sorted(avail)) or 'none'})"
        )


def _section(r: dict[str, Any], key: str) -> dict[str, Any] | None:
    v = r.get(key)
    if v is None:
        return None
    if not isinstance(v, dict):
        raise ConfigError(f"{R}.{key} must be an object, got {v!r}")
    return v


def _set_values(section: dict[str, Any]) -> bool:
    return any(v is not None for v in section.values())


def check_resources(mgr: CgroupManager, r: dict[str, Any] | None) -> None:
    if r is None:
        return
    if not isinstance(r, dict):
        raise ConfigError(f"{R} must be an object, got {r!r}")
    avail = mgr.available()
    mode = mgr.mode()
    v2 = mgr.version == 2
    mem = _section(r, "memory")
    if mem and _set_values(mem):
        _check_memory(mem, avail, mode, v2, mgr)
    cpu = _section(r, "cpu")
    if cpu and _set_values(cpu):
        _check_cpu(cpu, avail, mode, v2, mgr)
    pids = _section(r, "pids")
    if pids and pids.get("limit") is not None:
        limit = _int(pids, "limit", f"{R}.pids.limit")
        if limit == 0:
            raise ConfigError(f"{R}.pids.limit 0 is not allowed: a positive number of processes, or -1 for unlimited")
        _need(avail, "pids", f"{R}.pids.limit", mode)
    bio = _section(r, "blockIO")
    if bio and _set_values(bio):
        _check_blkio(bio, avail, mode)
    huge = r.get("hugepageLimits")
    if huge:
        _check_hugetlb(huge, avail, mode)
    net = _section(r, "network")
    if net and _set_values(net):
        if net.get("classID") is not None:
            _need(avail, "net_cls", f"{R}.network.classID", mode)
        if net.get("priorities"):
            _need(avail, "net_prio", f"{R}.network.priorities", mode)
    if r.get("rdma"):
        _need(avail, "rdma", f"{R}.rdma", mode)
    unified = r.get("unified")
    if unified:
        _check_unified(unified, mgr)
    devices = r.get("devices")
    if devices:
        from pallet.runtime.cgroups.devices import parse_rules

        if not isinstance(devices, list):
            raise ConfigError(f"{R}.devices must be a list of rules, got {devices!r}")
        parse_rules(devices)
        _need(avail, "devices", f"{R}.devices", mode)


def _check_memory(mem: dict[str, Any], avail: set[str], mode: str, v2: bool, mgr: CgroupManager) -> None:
    f = f"{R}.memory"
    _need(avail, "memory", f, mode)
    limit = _int(mem, "limit", f"{f}.limit")
    if limit is not None and limit not in (0, -1):
        if limit < MIN_MEMORY:
            raise ConfigError(
                f"{f}.limit {limit} is below the minimum memory limit of {MIN_MEMORY} bytes (6 MiB); "
                "give at least 6 MiB, or -1 for unlimited"
            )
    swap = _int(mem, "swap", f"{f}.swap")
    if swap is not None and swap not in (0, -1):
        if swap < 0:
            raise ConfigError(f"{f}.swap {swap} is not allowed: bytes of memory plus swap, or -1 for unlimited")
        if limit is not None and limit > 0 and swap < limit:
            raise ConfigError(
                f"{f}.swap {swap} is below memory.limit {limit}: swap counts memory plus swap, so it "
                "must be at least the limit, or -1 for unlimited swap"
            )
        if v2 and (limit is None or limit in (0, -1)):
            raise ConfigError(f"{f}.swap {swap} needs memory.limit too on cgroup v2")
        if not mgr.has_swap_accounting():
            raise ConfigError(f"{f}.swap {swap}: swap accounting is not enabled on this host's memory cgroup")
    res = _int(mem, "reservation", f"{f}.reservation")
    if res is not None and res not in (0, -1):
        if res < 0:
            raise ConfigError(f"{f}.reservation {res} is not allowed: bytes, or -1 for none")
        if limit is not None and limit > 0 and res > limit:
            raise ConfigError(f"{f}.reservation {res} is above memory.limit {limit}: it must be at most the limit")
    sw = _int(mem, "swappiness", f"{f}.swappiness")
    if sw is not None and not 0 <= sw <= 100:
        raise ConfigError(f"{f}.swappiness {sw} is not allowed: a number from 0 to 100")


def _check_cpu(cpu: dict[str, Any], avail: set[str], mode: str, v2: bool, mgr: CgroupManager) -> None:
    f = f"{R}.cpu"
    shares = _int(cpu, "shares", f"{f}.shares")
    if shares is not None and shares != 0:
        if not 2 <= shares <= 262144:
            raise ConfigError(f"{f}.shares {shares} is not allowed: a number from 2 to 262144")
        _need(avail, "cpu", f"{f}.shares", mode)
    period = _int(cpu, "period", f"{f}.period")
    if period is not None and period != 0 and not 1000 <= period <= 1000000:
        raise ConfigError(f"{f}.period {period} is not allowed: microseconds from 1000 to 1000000")
    quota = _int(cpu, "quota", f"{f}.quota")
    if quota is not None and quota not in (0, -1) and quota < 1000:
        raise ConfigError(f"{f}.quota {quota} is not allowed: at least 1000 microseconds, or -1 for unlimited")
    if (quota or period or cpu.get("burst") is not None or cpu.get("idle") is not None):
        _need(avail, "cpu", f"{f}.quota/period", mode)
    if quota is not None and quota > 0:
        ncpu = len(mgr.host_cpus())
        p = period or 100000
        if ncpu and quota > ncpu * p:
            raise ConfigError(
                f"{f}.quota {quota} over period {p} asks for {quota / p:.2f} CPUs; this host has {ncpu}: "
                f"the quota may be at most {ncpu * p} for that period (from 0.01 to {ncpu}.00 CPUs)"
            )
    burst = _int(cpu, "burst", f"{f}.burst")
    if burst is not None and burst < 0:
        raise ConfigError(f"{f}.burst {burst} is not allowed: microseconds >= 0")
    idle = _int(cpu, "idle", f"{f}.idle")
    if idle is not None and idle not in (0, 1):
        raise ConfigError(f"{f}.idle {idle} is not allowed: 0 or 1")
    for key in ("realtimeRuntime", "realtimePeriod"):
        v = _int(cpu, key, f"{f}.{key}")
        if v is not None and v != 0:
            if v2 or not mgr.has_realtime():
                raise ConfigError(f"{f}.{key} {v}: real-time scheduling groups are not available on this host")
            if v < -1:
                raise ConfigError(f"{f}.{key} {v} is not allowed: microseconds, or -1")
    for key, what, have in (("cpus", "CPUs", mgr.host_cpus), ("mems", "memory nodes", mgr.host_mems)):
        v = cpu.get(key)
        if v is None or v == "":
            continue
        if not isinstance(v, str):
            raise ConfigError(f"{f}.{key} {v!r} is not a list such as '0-1,3'")
        try:
            wanted = parse_list(v)
        except ValueError:
            raise ConfigError(f"{f}.{key} {v!r} is not a list of {what} such as '0-1,3'") from None
        host = have()
        missing = wanted - host if host else set()
        if missing:
            raise ConfigError(
                f"{f}.{key} {v!r} names {what} that this host does not have ({format_list(missing)}): "
                f"allowed {format_list(host)}"
            )
        _need(avail, "cpuset", f"{f}.{key}", mode)


def is_block_device(major: int, minor: int) -> bool:
    return os.path.exists(f"/sys/dev/block/{major}:{minor}")


def _check_device(d: Any, field: str) -> tuple[int, int]:
    if not isinstance(d, dict):
        raise ConfigError(f"{field} must be an object with major and minor, got {d!r}")
    major, minor = d.get("major"), d.get("minor")
    if not isinstance(major, int) or not isinstance(minor, int) or major < 0 or minor < 0:
        raise ConfigError(f"{field} needs major and minor device numbers >= 0, got {major!r}:{minor!r}")
    if not is_block_device(major, minor):
        raise ConfigError(
            f"{field} {major}:{minor} is not a block device of this host: I/O limits apply to block "
            "devices (see /sys/dev/block)"
        )
    return major, minor


def _check_blkio(bio: dict[str, Any], avail: set[str], mode: str) -> None:
    f = f"{R}.blockIO"
    _need(avail, "blkio", f, mode)
    w = _int(bio, "weight", f"{f}.weight")
    if w is not None and w != 0 and not 10 <= w <= 1000:
        raise ConfigError(f"{f}.weight {w} is not allowed: a number from 10 to 1000")
    for i, d in enumerate(bio.get("weightDevice") or ()):
        field = f"{f}.weightDevice[{i}]"
        _check_device(d, field)
        dw = d.get("weight")
        if dw is not None and (not isinstance(dw, int) or not 10 <= dw <= 1000):
            raise ConfigError(f"{field}.weight {dw!r} is not allowed: a number from 10 to 1000")
    for key in ("throttleReadBpsDevice", "throttleWriteBpsDevice", "throttleReadIOPSDevice", "throttleWriteIOPSDevice"):
        for i, d in enumerate(bio.get(key) or ()):
            field = f"{f}.{key}[{i}]"
            _check_device(d, field)
            rate = d.get("rate")
            if not isinstance(rate, int) or isinstance(rate, bool) or rate < 0:
                raise ConfigError(f"{field}.rate {rate!r} is not allowed: a number >= 0 (0 removes the limit)")


def _check_hugetlb(huge: Any, avail: set[str], mode: str) -> None:
    f = f"{R}.hugepageLimits"
    if not isinstance(huge, list):
        raise ConfigError(f"{f} must be a list, got {huge!r}")
    _need(avail, "hugetlb", f, mode)
    sizes = host_page_sizes()
    for i, h in enumerate(huge):
        size = h.get("pageSize") if isinstance(h, dict) else None
        if size not in sizes:
            raise ConfigError(
                f"{f}[{i}].pageSize {size!r} is not a huge page size of this host: allowed {', '.join(sizes) or 'none'}"
            )
        limit = h.get("limit")
        if not isinstance(limit, int) or isinstance(limit, bool) or limit < -1:
            raise ConfigError(f"{f}[{i}].limit {limit!r} is not allowed: bytes, or -1 for unlimited")


def _check_unified(unified: Any, mgr: CgroupManager) -> None:
    f = f"{R}.unified"
    if not isinstance(unified, dict):
        raise ConfigError(f"{f} must be an object of file names to values, got {unified!r}")
    if not mgr.unified_dir():
        raise ConfigError(f"{f} needs a cgroup v2 (unified) hierarchy, which this host does not have")
    avail = mgr.unified_controllers() | {"cgroup"}
    for key, value in unified.items():
        if not isinstance(value, str):
            raise ConfigError(f"{f}[{key!r}] {value!r} must be a string")
        if "/" in key or "." not in key or key.startswith("."):
            raise ConfigError(f"{f} key {key!r} is not a cgroup file name such as 'memory.high'")
        if key in ("cgroup.procs", "cgroup.threads", "cgroup.subtree_control", "cgroup.kill", "cgroup.freeze"):
            raise ConfigError(f"{f} key {key!r} is managed by the runtime and cannot be set")
        if key.split(".", 1)[0] not in avail:
            raise ConfigError(
                f"{f} key {key!r} needs the {key.split('.', 1)[0]} controller in the unified hierarchy, "
                f"which offers: {', '.join(sorted(mgr.unified_controllers())) or 'none'}"
            )
