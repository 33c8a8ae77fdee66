"""The network store: networks and their address allocations under ``<root>/networks/``.

Everything lives in one JSON document (``state.json``: the networks and, per container, its
endpoints and published ports) read and rewritten under an exclusive flock of ``lock``, so that
parallel commands never hand out one address twice. Writes go to a temporary file, fsynced and
renamed. Host objects (bridges, the nftables table, DNS responders, named namespaces) are named from
the store's NetworkConfig and made to match the state; the next command repairs a half-made state.
"""

from __future__ import annotations

import json
import os
import time

from pallet.errors import ConfigError, ConflictError, NotFoundError
from pallet.network import addr, dns, links, nft
from pallet.network.config import NetworkConfig, load_config

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    State = dict[str, Any]

BRIDGE_NAME_OPT = "com.docker.network.bridge.name"
PSEUDO_NETWORKS = ("host", "none")


class NetworkBase:
    """Networks of one pallet state root (``root``) and run root (``runroot``); NetworkStore adds
    the containers' endpoints (pallet.network.endpoints)."""

    def __init__(self, root: str, runroot: str, config: NetworkConfig | None = None) -> None:
        self.dir = os.path.join(root, "networks")
        self.config = config or load_config(os.path.join(self.dir, "config.json"))
        self.rundir = os.path.join(runroot, "networks")
        self.netns_dir = os.path.join(runroot, "netns")
        self._txn: _Transaction | None = None

    # -- state and lock ---------------------------------------------------------------------------

    def _read(self) -> State:
        try:
            with open(os.path.join(self.dir, "state.json")) as f:
                state: State = json.load(f)
        except FileNotFoundError:
            state = {"networks": {}, "endpoints": {}}
        return state

    def _write(self, state: State) -> None:
        if self._txn is not None:
            self._txn.before = json.dumps(state, sort_keys=True)
        from pallet.atomicfile import write_atomic

        write_atomic(os.path.join(self.dir, "state.json"), json.dumps(state, separators=(",", ":")), mode=0o600,
                     durable=True)

    def _transaction(self) -> _Transaction:
        return _Transaction(self)

    def _snapshot(self) -> State:
        """The state read without the lock (readers see a complete document: writes are renames)."""
        return self._read()

    # -- networks ---------------------------------------------------------------------------------

    def create(self, name: str, *, driver: str = "bridge", subnet: str = "", gateway: str = "",
               ip_range: str = "", internal: bool = False, labels: dict[str, str] | None = None,
               options: dict[str, str] | None = None, attachable: bool = False) -> dict[str, Any]:
        """``network create``: validate, choose a subnet if none is given, record, make the bridge."""
        _check_name(name)
        if driver != "bridge":
            raise ConfigError(f"network driver {driver!r} is not supported: only 'bridge'")
        with self._transaction() as state:
            if name in state["networks"] or name in PSEUDO_NETWORKS or name == self.config.default_network:
                raise ConflictError(f"network with name {name} already exists")
            net_id = os.urandom(32).hex()
            bridge = (options or {}).get(BRIDGE_NAME_OPT) or self.config.user_bridge(net_id)
            rec = self._new_record(state, name, net_id, bridge, subnet=subnet, gateway=gateway,
                                   ip_range=ip_range, internal=internal, labels=labels or {},
                                   options=options or {}, attachable=attachable)
            state["networks"][name] = rec
            self._make_host_side(state, rec)
        return self.inspect(name)

    def _new_record(self, state: State, name: str, net_id: str, bridge: str, *, subnet: str, gateway: str,
                    ip_range: str, internal: bool, labels: dict[str, str], options: dict[str, str],
                    attachable: bool, default: bool = False) -> dict[str, Any]:
        if len(bridge) > 15 or not bridge:
            raise ConfigError(f"invalid bridge name {bridge!r} in -o {BRIDGE_NAME_OPT}: 1 to 15 characters")
        if any(_bridge(r) == bridge for r in state["networks"].values()):
            raise ConflictError(f"bridge {bridge} is already used by another network")
        ours = [addr.parse_cidr(_subnet(r)) for r in state["networks"].values()]
        host = [h for h in addr.host_subnets() if not any(addr.overlaps(h, o) for o in ours)]
        if subnet:
            net = addr.parse_cidr(subnet, "--subnet")
            if net[1] > 30:
                raise ConfigError(f"invalid --subnet {subnet!r}: a bridge network needs a /30 or larger")
            for other_name, r in state["networks"].items():
                if addr.overlaps(net, addr.parse_cidr(_subnet(r))):
                    raise ConflictError(f"--subnet {subnet} overlaps the subnet {_subnet(r)} of network {other_name}")
            for h in host:
                if addr.overlaps(net, h):
                    raise ConflictError(f"--subnet {subnet} overlaps {addr.cidr(h)}, which the host already routes")
        else:
            if gateway or ip_range:
                raise ConfigError("--gateway and --ip-range need --subnet")
            chosen = addr.choose_subnet(addr.pool_subnets(self.config.pools), ours + host)
            if chosen is None:
                raise ConflictError("no free subnet left in the address pools "
                                    f"{', '.join(f'{b}/{s}' for b, s in self.config.pools)}")
            net = chosen
        if gateway:
            gw = addr.ip_to_int(gateway, "--gateway")
            if not addr.contains(net, gw) or gw in (net[0], net[0] + addr.size(net) - 1):
                raise ConfigError(f"invalid --gateway {gateway}: not a host address of the subnet {addr.cidr(net)}")
        else:
            gw = net[0] + 1
        ipam: dict[str, str] = {"Subnet": addr.cidr(net), "Gateway": addr.int_to_ip(gw)}
        if ip_range:
            rng = addr.parse_cidr(ip_range, "--ip-range")
            if not addr.contains(net, rng[0]) or rng[1] < net[1]:
                raise ConfigError(f"invalid --ip-range {ip_range}: not inside the subnet {addr.cidr(net)}")
            ipam["IPRange"] = ip_range
        opts = dict(options)
        opts[BRIDGE_NAME_OPT] = bridge
        if default:
            opts.update({"com.docker.network.bridge.default_bridge": "true",
                         "com.docker.network.bridge.enable_ip_masquerade": "true",
                         "com.docker.network.driver.mtu": str(self.config.mtu)})
        return {
            "Name": name, "Id": net_id, "Created": _now(), "Scope": "local", "Driver": "bridge",
            "EnableIPv6": False, "IPAM": {"Driver": "default", "Options": {}, "Config": [ipam]},
            "Internal": internal, "Attachable": attachable, "Ingress": False,
            "ConfigFrom": {"Network": ""}, "ConfigOnly": False, "Options": opts, "Labels": labels,
        }

    def _make_host_side(self, state: State, rec: dict[str, Any]) -> None:
        """The bridge and the NAT rules of a network (idempotent)."""
        subnet = addr.parse_cidr(_subnet(rec))
        links.ensure_bridge(_bridge(rec), rec["IPAM"]["Config"][0]["Gateway"], subnet[1])
        self._apply_rules(state)

    def _ensure_default(self, state: State) -> dict[str, Any]:
        name = self.config.default_network
        rec: dict[str, Any] | None = state["networks"].get(name)
        if rec is None:
            rec = self._new_record(state, name, os.urandom(32).hex(), self.config.bridge, subnet="", gateway="",
                                   ip_range="", internal=False, labels={}, options={}, attachable=False,
                                   default=True)
            state["networks"][name] = rec
        return rec  # its bridge is made by the first attach, after the state is written

    def _find(self, state: State, ref: str) -> dict[str, Any]:
        if ref in state["networks"]:
            found: dict[str, Any] = state["networks"][ref]
            return found
        matches = [r for r in state["networks"].values() if ref and r["Id"].startswith(ref)]
        if len(matches) == 1:
            one: dict[str, Any] = matches[0]
            return one
        if len(matches) > 1:
            raise ConflictError(f"network id prefix {ref!r} is ambiguous: {len(matches)} networks match")
        raise NotFoundError(f"network {ref} not found")

    def inspect(self, ref: str) -> dict[str, Any]:
        """``network inspect``: docker's shape, with Containers."""
        state = self._snapshot()
        if ref == self.config.default_network and ref not in state["networks"]:
            with self._transaction() as locked:
                self._ensure_default(locked)
            state = self._snapshot()
        return self._view(state, self._find(state, ref))

    def _view(self, state: State, rec: dict[str, Any]) -> dict[str, Any]:
        containers = {}
        for cid, ep in state["endpoints"].items():
            e = ep["nets"].get(rec["Name"])
            if e:
                containers[cid] = {"Name": ep["name"], "EndpointID": e["EndpointID"], "MacAddress": e["MacAddress"],
                                   "IPv4Address": f"{e['IPAddress']}/{e['IPPrefixLen']}", "IPv6Address": ""}
        return {**rec, "Containers": containers}

    def networks(self) -> list[dict[str, Any]]:
        """``network ls``: every network (the default one included once made), oldest first."""
        state = self._snapshot()
        return [self._view(state, r) for r in sorted(state["networks"].values(), key=lambda r: r["Created"])]

    def remove(self, ref: str) -> None:
        """``network rm``: refuse while containers are attached; remove its bridge, rules, DNS."""
        with self._transaction() as state:
            rec = self._find(state, ref)
            users = [ep["name"] or cid[:12] for cid, ep in state["endpoints"].items() if rec["Name"] in ep["nets"]]
            if users:
                raise ConflictError(f"network {rec['Name']} has active endpoints ({', '.join(sorted(users))}): "
                                    "disconnect or remove those containers first")
            del state["networks"][rec["Name"]]
            self._remove_host_side(state, rec)

    def _remove_host_side(self, state: State, rec: dict[str, Any]) -> None:
        netdir = os.path.join(self.rundir, rec["Id"][:12])
        dns.stop(os.path.join(netdir, "dns.pid"))
        _rmtree(netdir)
        self._apply_rules(state)
        links.delete_link(_bridge(rec))

    def prune(self) -> list[str]:
        """``network prune``: remove the user networks without containers; their names."""
        state = self._snapshot()
        removed = []
        for name in sorted(state["networks"]):
            if name == self.config.default_network:
                continue
            try:
                self.remove(name)
            except (ConflictError, NotFoundError):
                continue
            removed.append(name)
        return removed

    # -- rules and repair -------------------------------------------------------------------------

    # hooks the endpoints' half fills in
    def _release(self, state: State, cid: str, *, delete_links: bool) -> list[str]:
        raise NotImplementedError

    def _gc(self, state: State) -> None:
        raise NotImplementedError

    def _sync_dns(self, state: State) -> None:
        raise NotImplementedError

    def _apply_rules(self, state: State) -> None:
        stamp = os.path.join(self.rundir, "nft.applied")
        if not state["networks"]:
            nft.delete_table(self.config.table, stamp)
            return
        nets = [{"bridge": _bridge(r), "subnet": _subnet(r), "internal": r["Internal"]}
                for r in state["networks"].values()]
        bindings = [b for ep in state["endpoints"].values() for b in ep.get("ports", ())]
        nft.apply(self.config.table, nft.render(self.config.table, nets, bindings), stamp)

    def repair(self) -> None:
        """Make the host match the state again: bridges, rules (reloaded), DNS responders."""
        with self._transaction() as state:
            self._gc(state)
            try:
                os.unlink(os.path.join(self.rundir, "nft.applied"))
            except FileNotFoundError:
                pass
            for rec in state["networks"].values():
                self._make_host_side(state, rec)
            self._sync_dns(state)

    def reset(self) -> None:
        """Remove everything this store made on the host and forget its state (``system reset``)."""
        veths: list[str] = []
        with self._transaction() as state:
            for cid in list(state["endpoints"]):
                veths += self._release(state, cid, delete_links=True)
            for rec in list(state["networks"].values()):
                del state["networks"][rec["Name"]]
                self._remove_host_side(state, rec)
            for name in _listdir(self.netns_dir):
                links.delete_netns(os.path.join(self.netns_dir, name))
        links.wait_gone(veths)

class _Transaction:
    """``with store._transaction() as state``: locked read, then write back unless an error escaped."""

    def __init__(self, store: NetworkBase) -> None:
        from pallet.filelock import FileLock

        self.store = store
        self.lock = FileLock(os.path.join(store.dir, "lock"))

    def __enter__(self) -> State:
        os.makedirs(self.store.dir, exist_ok=True)
        os.makedirs(self.store.rundir, exist_ok=True)
        self.lock.__enter__()
        try:
            state = self.store._read()
        except BaseException:
            self.lock.__exit__()  # an unreadable state must not keep the lock
            raise
        self.before = json.dumps(state, sort_keys=True)
        self.state = state
        self.outer, self.store._txn = self.store._txn, self
        return state

    def __exit__(self, kind: object, value: object, tb: object) -> None:
        try:
            if kind is None and json.dumps(self.state, sort_keys=True) != self.before:
                self.store._write(self.state)
        finally:
            self.store._txn = self.outer
            self.lock.__exit__()


def _subnet(rec: dict[str, Any]) -> str:
    return str(rec["IPAM"]["Config"][0]["Subnet"])


def _bridge(rec: dict[str, Any]) -> str:
    return str(rec["Options"][BRIDGE_NAME_OPT])


def _check_name(name: str) -> None:
    ok = bool(name) and name[0].isalnum() and all(c.isalnum() or c in "_.-" for c in name)
    if not ok:
        raise ConfigError(f"invalid network name {name!r}: use letters, digits, '_', '.' and '-', "
                          "starting with a letter or digit")


def _now() -> str:
    t = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + f".{int(t % 1 * 1e9):09d}Z"


def _listdir(path: str) -> list[str]:
    try:
        return sorted(os.listdir(path))
    except FileNotFoundError:
        return []


def _rmtree(path: str) -> None:
    for name in _listdir(path):
        try:
            os.unlink(os.path.join(path, name))
        except (IsADirectoryError, FileNotFoundError):
            pass
    try:
        os.rmdir(path)
    except (FileNotFoundError, OSError):
        pass
