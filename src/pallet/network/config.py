"""The host-global names of one network store, so that independent stores on a host never collide."""

from __future__ import annotations

from pallet.network.addr import DEFAULT_POOLS


class NetworkConfig:
    """Names and pools a store uses on the host.

    ``bridge``: the default network's bridge (docker0's counterpart); ``bridge_prefix``: user
    networks' bridges are ``(bridge_prefix + id)[:15]``; ``table``: the nftables table (family ip);
    ``pools``: (base CIDR, subnet size) pairs from which subnets are chosen; ``default_network``:
    the name of the default network; ``mtu`` of the veths; ``veth_prefix``: a container's host-side
    veths are ``veth_prefix`` + the start of its id + the endpoint's index (15 characters at most).
    """

    __slots__ = ("bridge", "bridge_prefix", "default_network", "mtu", "pools", "table", "veth_prefix")

    def __init__(self, *, bridge: str = "pallet0", bridge_prefix: str = "pallet-", table: str = "pallet",
                 pools: tuple[tuple[str, int], ...] | list[tuple[str, int]] = DEFAULT_POOLS,
                 default_network: str = "bridge", mtu: int = 1500, veth_prefix: str = "vp") -> None:
        from pallet.errors import ConfigError

        if not 1 <= len(bridge) <= 15 or "/" in bridge or " " in bridge:
            raise ConfigError(f"invalid bridge name {bridge!r}: 1 to 15 characters, no '/' or space")
        if len(bridge_prefix) > 11:
            raise ConfigError(f"invalid bridge prefix {bridge_prefix!r}: at most 11 characters")
        if not table or not all(c.isalnum() or c in "_-" for c in table):
            raise ConfigError(f"invalid nftables table name {table!r}: letters, digits, '_' and '-'")
        if not 1 <= len(veth_prefix) <= 9 or not veth_prefix.isalnum():
            raise ConfigError(f"invalid veth prefix {veth_prefix!r}: 1 to 9 letters or digits")
        self.veth_prefix = veth_prefix
        self.bridge = bridge
        self.bridge_prefix = bridge_prefix
        self.table = table
        self.pools = tuple(pools)
        self.default_network = default_network
        self.mtu = mtu

    def user_bridge(self, network_id: str) -> str:
        return (self.bridge_prefix + network_id)[:15]

    def veth(self, container_id: str, index: int) -> str:
        suffix = str(index)
        return (self.veth_prefix + container_id)[:15 - len(suffix)] + suffix


def load_config(path: str) -> NetworkConfig:
    """The store's configuration from ``<root>/networks/config.json`` (defaults for what it omits)."""
    import json

    from pallet.errors import ConfigError

    try:
        with open(path) as f:
            data = json.load(f)
    except FileNotFoundError:
        return NetworkConfig()
    except ValueError as e:
        raise ConfigError(f"invalid network configuration {path}: {e}") from None
    known = {"bridge", "bridge_prefix", "table", "pools", "default_network", "mtu", "veth_prefix"}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ConfigError(f"invalid network configuration {path}: unknown keys {', '.join(unknown)} "
                          f"(allowed: {', '.join(sorted(known))})")
    if "pools" in data:
        data["pools"] = [(str(base), int(plen)) for base, plen in data["pools"]]
    return NetworkConfig(**data)
