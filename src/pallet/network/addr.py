"""IPv4 addresses and subnets as integers, MAC addresses derived from them, and the host's subnets.

Kept free of the ``ipaddress`` module (about 3 ms to import): the network code is on the container
start path and needs only a handful of conversions.
"""

from __future__ import annotations

from pallet.errors import ConfigError

Subnet = tuple[int, int]  # (network address as int, prefix length)

# docker's default address pools: 172.17-31.0.0/16, then 192.168.0.0/16 in /20 steps.
DEFAULT_POOLS: tuple[tuple[str, int], ...] = (
    *((f"172.{n}.0.0/16", 16) for n in range(17, 32)), ("192.168.0.0/16", 20))


def ip_to_int(text: str, where: str = "address") -> int:
    parts = text.split(".")
    if len(parts) != 4 or not all(p.isdigit() and len(p) <= 3 and int(p) <= 255 for p in parts):
        raise ConfigError(f"invalid IPv4 address {text!r} for {where}: expected four numbers 0-255 like 172.18.0.2")
    a, b, c, d = (int(p) for p in parts)
    return (a << 24) | (b << 16) | (c << 8) | d


def int_to_ip(value: int) -> str:
    return f"{value >> 24 & 255}.{value >> 16 & 255}.{value >> 8 & 255}.{value & 255}"


def mask(prefix: int) -> int:
    return (0xFFFFFFFF << (32 - prefix)) & 0xFFFFFFFF if prefix else 0


def parse_cidr(text: str, where: str = "subnet", *, strict: bool = True) -> Subnet:
    """``a.b.c.d/n`` -> (network, n).  With ``strict``, host bits must be zero (as docker requires)."""
    addr, sep, plen = text.partition("/")
    if not sep or not plen.isdigit() or not 0 <= int(plen) <= 32:
        raise ConfigError(f"invalid subnet {text!r} for {where}: expected CIDR notation like 172.18.0.0/16")
    prefix = int(plen)
    value = ip_to_int(addr, where)
    if strict and value & ~mask(prefix) & 0xFFFFFFFF:
        raise ConfigError(
            f"invalid subnet {text!r} for {where}: host bits are set; did you mean "
            f"{int_to_ip(value & mask(prefix))}/{prefix}?"
        )
    return value & mask(prefix), prefix


def cidr(subnet: Subnet) -> str:
    return f"{int_to_ip(subnet[0])}/{subnet[1]}"


def size(subnet: Subnet) -> int:
    return 1 << (32 - subnet[1])


def contains(subnet: Subnet, address: int) -> bool:
    return address & mask(subnet[1]) == subnet[0]


def overlaps(a: Subnet, b: Subnet) -> bool:
    shorter = min(a[1], b[1])
    return a[0] & mask(shorter) == b[0] & mask(shorter)


def mac_for_ip(address: int) -> str:
    """docker's MAC for an address: 02:42 followed by the four bytes of the IPv4 address."""
    return "02:42:" + ":".join(f"{address >> s & 255:02x}" for s in (24, 16, 8, 0))


def check_mac(text: str, where: str = "--mac-address") -> str:
    parts = text.split(":")
    ok = len(parts) == 6 and all(len(p) == 2 and all(c in "0123456789abcdefABCDEF" for c in p) for p in parts)
    if not ok:
        raise ConfigError(f"invalid MAC address {text!r} for {where}: expected six hex bytes like 02:42:ac:11:00:02")
    if int(parts[0], 16) & 1:
        raise ConfigError(f"invalid MAC address {text!r} for {where}: a multicast address cannot be assigned")
    return text.lower()


def pool_subnets(pools: tuple[tuple[str, int], ...] | list[tuple[str, int]]) -> list[Subnet]:
    """Every candidate subnet of the pools, in order: each base CIDR cut into subnets of the given size."""
    out: list[Subnet] = []
    for base_text, plen in pools:
        base = parse_cidr(base_text, "address pool")
        if plen < base[1] or plen > 30:
            raise ConfigError(f"invalid address pool {base_text!r} size /{plen}: the size must be between /{base[1]} and /30")
        step = 1 << (32 - plen)
        out.extend((base[0] + i * step, plen) for i in range(size(base) // step))
    return out


def host_subnets() -> list[Subnet]:
    """Subnets the host already routes (main table, without the default route) or has addresses in."""
    found: list[Subnet] = []
    try:
        with open("/proc/net/route") as f:
            lines = f.read().splitlines()[1:]
    except OSError:
        lines = []
    for line in lines:
        fields = line.split()
        if len(fields) < 8:
            continue
        dest = int.from_bytes(bytes.fromhex(fields[1]), "little")
        netmask = int.from_bytes(bytes.fromhex(fields[7]), "little")
        prefix = bin(netmask).count("1")
        if prefix == 0:
            continue
        found.append((dest & mask(prefix), prefix))
    try:
        with open("/proc/net/fib_trie") as f:
            trie = f.read().splitlines()
    except OSError:
        trie = []
    # Local addresses appear in fib_trie as "|-- a.b.c.d" followed by "/32 host LOCAL".
    for i, line in enumerate(trie[:-1]):
        text = line.strip()
        if text.startswith("|-- ") and "/32 host LOCAL" in trie[i + 1]:
            value = ip_to_int(text[4:])
            if value >> 24 != 127:
                found.append((value, 32))
    return found


def choose_subnet(candidates: list[Subnet], taken: list[Subnet]) -> Subnet | None:
    for subnet in candidates:
        if not any(overlaps(subnet, t) for t in taken):
            return subnet
    return None


def next_free(subnet: Subnet, used: set[int], ip_range: Subnet | None = None) -> int | None:
    """The lowest free host address of ``subnet`` (within ``ip_range`` if given), or None."""
    space = ip_range or subnet
    first = max(space[0], subnet[0] + 1)
    last = min(space[0] + size(space) - 1, subnet[0] + size(subnet) - 2)  # not the broadcast address
    for value in range(first, last + 1):
        if value not in used:
            return value
    return None
