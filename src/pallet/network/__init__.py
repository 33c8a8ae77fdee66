"""pallet.network: bridges, veth pairs, addresses, published ports, DNS between containers.

The engine's entry point is NetworkStore (see docs/networking.md for the API and how it works).
The names below are loaded on first use (PEP 562), so that importing one submodule
(``pallet.network.links`` for a ``--network none`` container) does not load the whole package.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pallet.network.config import NetworkConfig
    from pallet.network.endpoints import NetworkStore
    from pallet.network.etcfiles import build_hostname, build_hosts, build_resolv_conf
    from pallet.network.links import interface_counters
    from pallet.network.modes import parse_network_mode
    from pallet.network.ports import parse_expose, parse_publish, ports_view

__all__ = [
    "NetworkConfig",
    "NetworkStore",
    "build_hostname",
    "build_hosts",
    "build_resolv_conf",
    "interface_counters",
    "parse_expose",
    "parse_network_mode",
    "parse_publish",
    "ports_view",
]

_HOMES = {
    "NetworkConfig": "config",
    "NetworkStore": "endpoints",
    "build_hostname": "etcfiles",
    "build_hosts": "etcfiles",
    "build_resolv_conf": "etcfiles",
    "interface_counters": "links",
    "parse_network_mode": "modes",
    "parse_expose": "ports",
    "parse_publish": "ports",
    "ports_view": "ports",
}


def __getattr__(name: str) -> object:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'pallet.network' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(f"pallet.network.{home}"), name)
    globals()[name] = value
    return value
