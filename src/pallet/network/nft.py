"""NAT, isolation and published ports as nftables rules in pallet's own table.

The whole content of the table is computed from the store's state and loaded with one ``nft -f``
transaction that creates what is missing and flushes and refills the rest, so that applying it is
idempotent and a crash half-way is repaired by the next apply. Only this table is ever touched.

    table ip <table> {
      map anyports  { inet_proto . inet_service : ipv4_addr . inet_service }   # -p 8080:80
      map addrports { ipv4_addr . inet_proto . inet_service : ipv4_addr . inet_service }  # -p 1.2.3.4:8080:80
      chain prerouting  (nat, dstnat)  fib daddr type local -> ports
      chain output      (nat, -100)    fib daddr type local -> ports   (the host itself, 127.0.0.1 too)
      chain ports       dnat through the two maps
      chain postrouting (nat, srcnat)  masquerade each non-internal subnet leaving its bridge,
                                       127/8 sources DNATed onto a bridge, hairpin DNAT on a bridge
      chain forward     (filter)       internal networks: nothing in or out of their bridge
    }
"""

from __future__ import annotations

import os

from pallet.errors import RuntimeFailure

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable

    from pallet.network.ports import Binding


def render(table: str, networks: Iterable[dict[str, object]], bindings: Iterable[Binding]) -> str:
    """The ``nft -f`` script for ``table``.

    ``networks``: dicts with ``bridge``, ``subnet`` (CIDR) and ``internal``; ``bindings``: allocated
    port bindings with the container address in ``container_ip``.
    """
    t = f"ip {table}"
    lines = [
        f"add table {t}",
        f"add map {t} anyports {{ type inet_proto . inet_service : ipv4_addr . inet_service; }}",
        f"add map {t} addrports {{ type ipv4_addr . inet_proto . inet_service : ipv4_addr . inet_service; }}",
        f"add chain {t} prerouting {{ type nat hook prerouting priority dstnat; policy accept; }}",
        f"add chain {t} output {{ type nat hook output priority -100; policy accept; }}",
        f"add chain {t} ports",
        f"add chain {t} postrouting {{ type nat hook postrouting priority srcnat; policy accept; }}",
        f"add chain {t} forward {{ type filter hook forward priority filter; policy accept; }}",
    ]
    for chain in ("prerouting", "output", "ports", "postrouting", "forward"):
        lines.append(f"flush chain {t} {chain}")
    lines += [
        f"add rule {t} prerouting fib daddr type local jump ports",
        f"add rule {t} output fib daddr type local jump ports",
        f"add rule {t} ports dnat ip to ip daddr . meta l4proto . th dport map @addrports",
        f"add rule {t} ports dnat ip to meta l4proto . th dport map @anyports",
    ]
    for net in sorted(networks, key=lambda n: str(n["bridge"])):
        br, subnet = f'"{net["bridge"]}"', net["subnet"]
        if net.get("internal"):
            lines.append(f"add rule {t} forward iifname {br} oifname != {br} drop")
            lines.append(f"add rule {t} forward oifname {br} iifname != {br} drop")
            continue
        lines.append(f"add rule {t} postrouting ip saddr {subnet} oifname != {br} masquerade")
        lines.append(f"add rule {t} postrouting oifname {br} ip saddr 127.0.0.0/8 masquerade")
        lines.append(f"add rule {t} postrouting oifname {br} ip saddr {subnet} ct status dnat masquerade")
    anyports: list[str] = []
    addrports: list[str] = []
    for b in sorted(bindings, key=lambda b: (b["host_ip"], b["proto"], b["host_port"])):
        target = f"{b['container_ip']} . {b['container_port']}"
        if b["host_ip"] == "0.0.0.0":
            anyports.append(f"{b['proto']} . {b['host_port']} : {target}")
        else:
            addrports.append(f"{b['host_ip']} . {b['proto']} . {b['host_port']} : {target}")
    lines.append(f"flush map {t} anyports")
    if anyports:
        lines.append(f"add element {t} anyports {{ {', '.join(anyports)} }}")
    lines.append(f"flush map {t} addrports")
    if addrports:
        lines.append(f"add element {t} addrports {{ {', '.join(addrports)} }}")
    return "\n".join(lines) + "\n"


def _nft(script: str) -> None:
    import subprocess

    proc = subprocess.run(["nft", "-f", "-"], input=script.encode(), capture_output=True, check=False)
    if proc.returncode != 0:
        err = proc.stderr.decode(errors="replace").strip()
        raise RuntimeFailure(f"nft failed: {err}", step="nftables")


def apply(table: str, script: str, stamp_path: str) -> bool:
    """Load ``script`` unless the same script was the last one loaded (``stamp_path`` remembers it).

    The stamp lives in the run root (a tmpfs, emptied with the kernel's rules at boot); a table
    deleted by hand is restored by ``NetworkStore.repair()``, which forgets the stamp.
    """
    try:
        with open(stamp_path) as f:
            if f.read() == script:
                return False
    except FileNotFoundError:
        pass
    _nft(script)
    from pallet.atomicfile import write_atomic

    write_atomic(stamp_path, script)
    return True


def table_exists(table: str) -> bool:
    """Whether ``table`` is loaded (reads nothing but the table's name through nft's netlink list)."""
    import subprocess

    proc = subprocess.run(["nft", "list", "table", "ip", table], capture_output=True, check=False)
    return proc.returncode == 0


def delete_table(table: str, stamp_path: str) -> None:
    """Remove pallet's table (only ever ``table``, never another) and forget the last script."""
    import subprocess

    subprocess.run(["nft", "delete", "table", "ip", table], capture_output=True, check=False)
    try:
        os.unlink(stamp_path)
    except FileNotFoundError:
        pass
