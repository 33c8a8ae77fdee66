"""Conversions between the OCI (cgroup v1 shaped) values and their cgroup v2 forms."""

from __future__ import annotations

from pallet.errors import ConfigError


def shares_to_weight(shares: int) -> int:
    """cpu.shares (2-262144) to cpu.weight (1-10000), by the formula runc and crun use."""
    if shares <= 0:
        return 0
    shares = min(max(shares, 2), 262144)
    return 1 + ((shares - 2) * 9999) // 262142


def blkio_to_io_weight(weight: int) -> int:
    """blkio weight (10-1000) to io.weight (1-10000)."""
    if weight <= 0:
        return 0
    return 1 + ((weight - 10) * 9999) // 990


def swap_v2(swap: int | None, limit: int | None) -> int | None:
    """memory.swap.max from OCI memory.swap (memory plus swap) and memory.limit; -1 is "max".

    None means: leave memory.swap.max alone.
    """
    if swap is None or swap == 0:
        return None
    if swap == -1:
        return -1
    if limit is None or limit in (0, -1):
        raise ConfigError(
            f"linux.resources.memory.swap {swap} needs memory.limit on cgroup v2 (swap is memory plus swap)"
        )
    if swap < limit:
        raise ConfigError(
            f"linux.resources.memory.swap {swap} is below memory.limit {limit}: it counts memory plus "
            "swap, so it must be at least the limit, or -1 for unlimited swap"
        )
    return swap - limit


def page_size_name(size_bytes: int) -> str:
    """A huge page size as the cgroup files name it: 2097152 -> "2MB", 1073741824 -> "1GB"."""
    for unit, factor in (("GB", 1 << 30), ("MB", 1 << 20), ("KB", 1 << 10)):
        if size_bytes >= factor and size_bytes % factor == 0:
            return f"{size_bytes // factor}{unit}"
    return f"{size_bytes}B"


def host_page_sizes(sysfs: str = "/sys/kernel/mm/hugepages") -> list[str]:
    """Huge page sizes of the host in cgroup naming ("2MB", "1GB")."""
    import os

    out: list[str] = []
    try:
        names = os.listdir(sysfs)
    except OSError:
        return out
    for name in names:
        if name.startswith("hugepages-") and name.endswith("kB"):
            out.append(page_size_name(int(name[10:-2]) * 1024))
    return sorted(out)


def parse_list(text: str) -> set[int]:
    """A cpuset list ("0-3,7") as a set of numbers; raises ValueError on a malformed one."""
    out: set[int] = set()
    text = text.strip()
    if not text:
        return out
    for part in text.split(","):
        part = part.strip()
        if "-" in part:
            lo, hi = part.split("-", 1)
            a, b = int(lo), int(hi)
            if a < 0 or b < a:
                raise ValueError(part)
            out.update(range(a, b + 1))
        else:
            n = int(part)
            if n < 0:
                raise ValueError(part)
            out.add(n)
    return out


def format_list(nums: set[int]) -> str:
    """A set of numbers in cpuset list form (0-3,7)."""
    out: list[str] = []
    items = sorted(nums)
    i = 0
    while i < len(items):
        j = i
        while j + 1 < len(items) and items[j + 1] == items[j] + 1:
            j += 1
        out.append(str(items[i]) if i == j else f"{items[i]}-{items[j]}")
        i = j + 1
    return ",".join(out)
