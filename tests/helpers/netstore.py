"""A `pallet` CLI store with host-global network names of its own, for the networking e2e tests."""

from __future__ import annotations

import itertools
import json
import os
import socket
import subprocess
import time
import zlib
from pathlib import Path
from typing import Any

from tests.helpers.cli import Pallet
from tests.helpers.leaks import SESSION_TAG

# 10.<OCTET>.0.0/16: this session's pool (the store also skips anything the host routes).
OCTET = 100 + zlib.crc32(SESSION_TAG.encode() + b"engine-net") % 100
# No name lookup may leave for the host's resolvers: the only other resolver is the container's lo.
NO_DNS = ("--dns", "127.0.0.1", "--dns-search", ".")
_counter = itertools.count()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class NetPallet(Pallet):
    """Pallet whose network store has its own bridge, bridge prefix, nftables table and pool."""

    def __init__(self, base: Path) -> None:
        super().__init__(base)
        n = next(_counter)
        self.prefix = f"10.{OCTET}"
        self.config: dict[str, Any] = {
            "bridge": f"{SESSION_TAG}n{n}", "bridge_prefix": f"{SESSION_TAG}{n:02d}-",
            "table": f"{SESSION_TAG}_n{n}", "pools": [[f"{self.prefix}.0.0/16", 24]], "veth_prefix": SESSION_TAG,
        }
        (self.root / "networks").mkdir(parents=True, exist_ok=True)
        (self.root / "networks" / "config.json").write_text(json.dumps(self.config))

    def store_state(self) -> dict[str, Any]:
        try:
            return dict(json.loads((self.root / "networks" / "state.json").read_text()))
        except FileNotFoundError:
            return {"networks": {}, "endpoints": {}}

    def nft(self) -> str:
        return subprocess.run(["nft", "list", "table", "ip", self.config["table"]], capture_output=True,
                              text=True).stdout

    def bridges(self) -> list[str]:
        ours = (self.config["bridge"], self.config["bridge_prefix"])
        return [n for n in os.listdir("/sys/class/net") if n == ours[0] or n.startswith(ours[1])]

    def teardown(self) -> None:
        """Remove every container and network, check nothing of them is left, then reset the store."""
        from pallet.network import NetworkStore

        try:
            self.cleanup()
            self("network", "prune", "-f", check=False)
            problems = store_left(self)
        finally:
            NetworkStore(str(self.root), str(self.runroot)).reset()
        assert f"table ip {self.config['table']}" not in subprocess.run(
            ["nft", "list", "tables"], capture_output=True, text=True).stdout
        assert self.bridges() == []
        assert problems == [], problems


def make_store(base: Path) -> NetPallet:
    p = NetPallet(base)
    p.make_busybox()
    return p


def session_veths() -> list[str]:
    """Links of this session that are not bridges (container veths)."""
    return [n for n in os.listdir("/sys/class/net")
            if n.startswith(SESSION_TAG) and not os.path.exists(f"/sys/class/net/{n}/bridge")]


def wait_links_gone(names: list[str] | None = None, timeout: float = 15) -> list[str]:
    """Wait until the links (default: every session veth) are gone; those still there."""
    deadline = time.monotonic() + timeout
    while True:
        left = [n for n in (names if names is not None else session_veths()) if os.path.exists(f"/sys/class/net/{n}")]
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.05)


def store_left(p: NetPallet) -> list[str]:
    """What of the store's containers is still on the host after they were all removed."""
    problems = [f"endpoint of {cid[:12]} in the state" for cid in p.store_state().get("endpoints", {})]
    netns = p.runroot / "netns"
    problems += [f"netns file {f}" for f in (netns.glob("*") if netns.exists() else [])]
    problems += [f"netns mount {line.split()[4]}" for line in Path("/proc/self/mountinfo").read_text().splitlines()
                 if line.split()[4].startswith(str(netns) + "/")]
    problems += [f"veth {n}" for n in wait_links_gone()]
    rules = p.nft()
    if "elements" in rules:
        problems.append("published-port map elements left:\n" + rules)
    for net in p.store_state().get("networks", {}).values():
        if net["Name"] != "bridge":
            problems.append(f"network {net['Name']}")
    return problems
