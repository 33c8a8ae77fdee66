"""pallet.network: bridges, veth pairs, addresses, published ports, DNS between containers.

The engine's entry point is NetworkStore (see docs/networking.md for the API and how it works).
"""

from __future__ import annotations

from pallet.network.config import NetworkConfig
from pallet.network.endpoints import NetworkStore
from pallet.network.etcfiles import build_hostname, build_hosts, build_resolv_conf
from pallet.network.links import interface_counters, loopback_up
from pallet.network.modes import parse_network_mode
from pallet.network.ports import parse_expose, parse_publish, ports_view

__all__ = [
    "NetworkConfig",
    "NetworkStore",
    "build_hostname",
    "build_hosts",
    "build_resolv_conf",
    "interface_counters",
    "loopback_up",
    "parse_expose",
    "parse_network_mode",
    "parse_publish",
    "ports_view",
]
