"""``--network`` values: none, host, bridge (default), container:<name|id>, or a network's name."""

from __future__ import annotations

from pallet.errors import ConfigError


def parse_network_mode(value: str, default_network: str = "bridge") -> tuple[str, str]:
    """-> (kind, argument): ("none", ""), ("host", ""), ("container", ref), ("network", name)."""
    if value in ("", "default", "bridge", default_network):
        return "network", default_network
    if value in ("none", "host"):
        return value, ""
    if value.startswith("container:"):
        ref = value.partition(":")[2]
        if not ref:
            raise ConfigError(f"invalid --network {value!r}: container: needs a container name or id")
        return "container", ref
    if ":" in value or "/" in value:
        raise ConfigError(f"invalid --network {value!r}: use none, host, bridge, container:<name|id> "
                          "or the name of a network")
    return "network", value
