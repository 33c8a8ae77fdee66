"""One typed statistics result for cgroup v1 and v2 (not on the container start path).

Times are nanoseconds, sizes bytes.  ``working_set`` is computed as docker does: usage minus the
inactive file cache.  A limit of None means unlimited.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field

from pallet.runtime.cgroups.base import read_or

UNLIMITED_V1 = 1 << 62  # memory.limit_in_bytes reads as about 2**63 when unlimited


@dataclass
class CpuStats:
    usage_total: int = 0
    per_cpu: list[int] = field(default_factory=list)
    user: int = 0
    system: int = 0
    periods: int = 0
    throttled_periods: int = 0
    throttled_time: int = 0


@dataclass
class MemoryStats:
    usage: int = 0
    limit: int | None = None
    max_usage: int = 0
    failcnt: int = 0
    cache: int = 0
    rss: int = 0
    working_set: int = 0
    swap_usage: int = 0
    oom_kills: int = 0
    raw: dict[str, int] = field(default_factory=dict)


@dataclass
class PidsStats:
    current: int = 0
    limit: int | None = None


@dataclass
class BlkioEntry:
    major: int
    minor: int
    op: str
    value: int


@dataclass
class BlkioStats:
    io_service_bytes: list[BlkioEntry] = field(default_factory=list)
    io_serviced: list[BlkioEntry] = field(default_factory=list)


@dataclass
class HugetlbStats:
    usage: int = 0
    max_usage: int = 0
    failcnt: int = 0


@dataclass
class CgroupStats:
    cpu: CpuStats = field(default_factory=CpuStats)
    memory: MemoryStats = field(default_factory=MemoryStats)
    pids: PidsStats = field(default_factory=PidsStats)
    blkio: BlkioStats = field(default_factory=BlkioStats)
    hugetlb: dict[str, HugetlbStats] = field(default_factory=dict)

    def to_dict(self) -> dict[str, object]:
        return asdict(self)

    def to_runc(self) -> dict[str, object]:
        """The shape of runc's `events --stats` data."""
        m = self.memory
        unlimited = (1 << 64) - 1

        def entries(xs: list[BlkioEntry]) -> list[dict[str, object]]:
            return [{"major": e.major, "minor": e.minor, "op": e.op, "value": e.value} for e in xs]

        return {
            "cpu": {
                "usage": {"total": self.cpu.usage_total, "percpu": self.cpu.per_cpu,
                          "kernel": self.cpu.system, "user": self.cpu.user},
                "throttling": {"periods": self.cpu.periods, "throttledPeriods": self.cpu.throttled_periods,
                               "throttledTime": self.cpu.throttled_time},
            },
            "memory": {
                "cache": m.cache,
                "usage": {"limit": unlimited if m.limit is None else m.limit, "usage": m.usage,
                          "max": m.max_usage, "failcnt": m.failcnt},
                "swap": {"usage": m.swap_usage},
                "raw": m.raw,
            },
            "pids": {"current": self.pids.current, **({"limit": self.pids.limit} if self.pids.limit else {})},
            "blkio": {"ioServiceBytesRecursive": entries(self.blkio.io_service_bytes),
                      "ioServicedRecursive": entries(self.blkio.io_serviced)},
            "hugetlb": {k: {"usage": v.usage, "max": v.max_usage, "failcnt": v.failcnt}
                        for k, v in self.hugetlb.items()},
        }


def _int(path: str, default: int = 0) -> int:
    text = read_or(path).strip()
    try:
        return int(text)
    except ValueError:
        return default


def _kv(path: str) -> dict[str, int]:
    out: dict[str, int] = {}
    for line in read_or(path).splitlines():
        parts = line.split()
        if len(parts) == 2:
            try:
                out[parts[0]] = int(parts[1])
            except ValueError:
                continue
    return out


def _v1_blkio(path: str) -> list[BlkioEntry]:
    out = []
    for line in read_or(path).splitlines():
        parts = line.split()
        if len(parts) == 3 and ":" in parts[0]:
            major, minor = parts[0].split(":")
            out.append(BlkioEntry(int(major), int(minor), parts[1], int(parts[2])))
    return out


def _sizes(d: str, suffix: str) -> list[str]:
    try:
        names = os.listdir(d)
    except OSError:
        return []
    return sorted({n.split(".")[1] for n in names if n.startswith("hugetlb.") and n.endswith(suffix)})


def stats_v1(dirs: dict[str, str], hugetlb: tuple[str, int] | None) -> CgroupStats:
    s = CgroupStats()
    acct = dirs.get("cpuacct")
    if acct:
        s.cpu.usage_total = _int(os.path.join(acct, "cpuacct.usage"))
        s.cpu.per_cpu = [int(x) for x in read_or(os.path.join(acct, "cpuacct.usage_percpu")).split()]
        s.cpu.user = _int(os.path.join(acct, "cpuacct.usage_user"))
        s.cpu.system = _int(os.path.join(acct, "cpuacct.usage_sys"))
    cpu = dirs.get("cpu")
    if cpu:
        st = _kv(os.path.join(cpu, "cpu.stat"))
        s.cpu.periods = st.get("nr_periods", 0)
        s.cpu.throttled_periods = st.get("nr_throttled", 0)
        s.cpu.throttled_time = st.get("throttled_time", 0)
    mem = dirs.get("memory")
    if mem:
        raw = _kv(os.path.join(mem, "memory.stat"))
        m = s.memory
        m.raw = raw
        m.usage = _int(os.path.join(mem, "memory.usage_in_bytes"))
        limit = _int(os.path.join(mem, "memory.limit_in_bytes"), UNLIMITED_V1)
        m.limit = None if limit >= UNLIMITED_V1 else limit
        m.max_usage = _int(os.path.join(mem, "memory.max_usage_in_bytes"))
        m.failcnt = _int(os.path.join(mem, "memory.failcnt"))
        m.cache = raw.get("total_cache", raw.get("cache", 0))
        m.rss = raw.get("total_rss", raw.get("rss", 0))
        m.working_set = max(0, m.usage - raw.get("total_inactive_file", raw.get("inactive_file", 0)))
        memsw = _int(os.path.join(mem, "memory.memsw.usage_in_bytes"), m.usage)
        m.swap_usage = max(0, memsw - m.usage)
        m.oom_kills = _kv(os.path.join(mem, "memory.oom_control")).get("oom_kill", 0)
    pids = dirs.get("pids")
    if pids:
        s.pids.current = _int(os.path.join(pids, "pids.current"))
        lim = read_or(os.path.join(pids, "pids.max")).strip()
        s.pids.limit = int(lim) if lim.isdigit() else None
    blk = dirs.get("blkio")
    if blk:
        s.blkio.io_service_bytes = _v1_blkio(os.path.join(blk, "blkio.throttle.io_service_bytes_recursive"))
        s.blkio.io_serviced = _v1_blkio(os.path.join(blk, "blkio.throttle.io_serviced_recursive"))
    if hugetlb:
        d, version = hugetlb
        if version == 1:
            for size in _sizes(d, ".usage_in_bytes"):
                s.hugetlb[size] = HugetlbStats(
                    _int(os.path.join(d, f"hugetlb.{size}.usage_in_bytes")),
                    _int(os.path.join(d, f"hugetlb.{size}.max_usage_in_bytes")),
                    _int(os.path.join(d, f"hugetlb.{size}.failcnt")),
                )
        else:
            s.hugetlb = _v2_hugetlb(d)
    return s


def _v2_hugetlb(d: str) -> dict[str, HugetlbStats]:
    out = {}
    for size in _sizes(d, ".current"):
        out[size] = HugetlbStats(
            _int(os.path.join(d, f"hugetlb.{size}.current")), 0,
            _kv(os.path.join(d, f"hugetlb.{size}.events")).get("max", 0),
        )
    return out


def stats_v2(d: str) -> CgroupStats:
    s = CgroupStats()
    st = _kv(os.path.join(d, "cpu.stat"))
    s.cpu.usage_total = st.get("usage_usec", 0) * 1000
    s.cpu.user = st.get("user_usec", 0) * 1000
    s.cpu.system = st.get("system_usec", 0) * 1000
    s.cpu.periods = st.get("nr_periods", 0)
    s.cpu.throttled_periods = st.get("nr_throttled", 0)
    s.cpu.throttled_time = st.get("throttled_usec", 0) * 1000
    if os.path.exists(os.path.join(d, "memory.current")):
        raw = _kv(os.path.join(d, "memory.stat"))
        m = s.memory
        m.raw = raw
        m.usage = _int(os.path.join(d, "memory.current"))
        lim = read_or(os.path.join(d, "memory.max")).strip()
        m.limit = int(lim) if lim.isdigit() else None
        m.max_usage = _int(os.path.join(d, "memory.peak"))
        events = _kv(os.path.join(d, "memory.events"))
        m.failcnt = events.get("max", 0)
        m.oom_kills = events.get("oom_kill", 0)
        m.cache = raw.get("file", 0)
        m.rss = raw.get("anon", 0)
        m.working_set = max(0, m.usage - raw.get("inactive_file", 0))
        m.swap_usage = _int(os.path.join(d, "memory.swap.current"))
    if os.path.exists(os.path.join(d, "pids.current")):
        s.pids.current = _int(os.path.join(d, "pids.current"))
        lim = read_or(os.path.join(d, "pids.max")).strip()
        s.pids.limit = int(lim) if lim.isdigit() else None
    for line in read_or(os.path.join(d, "io.stat")).splitlines():
        parts = line.split()
        if not parts or ":" not in parts[0]:
            continue
        major, minor = (int(x) for x in parts[0].split(":"))
        kv = dict(p.split("=", 1) for p in parts[1:] if "=" in p)
        for key, op, target in (("rbytes", "Read", s.blkio.io_service_bytes), ("wbytes", "Write", s.blkio.io_service_bytes),
                                ("rios", "Read", s.blkio.io_serviced), ("wios", "Write", s.blkio.io_serviced)):
            if key in kv:
                target.append(BlkioEntry(major, minor, op, int(kv[key])))
    s.hugetlb = _v2_hugetlb(d)
    return s
