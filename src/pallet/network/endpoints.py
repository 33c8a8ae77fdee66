"""Containers on networks: attach, connect, disconnect, detach, and the settings docker shows.

attach() plans every endpoint (address, MAC, veth name) and every published port under the store's
lock, writes the plan to the state *before* touching the host (so a crash leaves records the next
command can clean), then makes the links with one ``ip -batch`` run inside the container's namespace
(the veth pairs, their host ends born in the host's namespace; addresses, lo, the default route) and
two ioctls per endpoint on the host (onto the bridge, up), loads the nftables rules if they changed
and updates the DNS records. Any failure undoes what was made and leaves the state as it was.
"""

from __future__ import annotations

import json
import os

from pallet.errors import ConfigError, ConflictError, NotFoundError
from pallet.network import addr, dns, etcfiles, links, ports
from pallet.network.store import NetworkBase

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import Any

    from pallet.network.ports import Binding
    from pallet.network.store import State


class NetworkStore(NetworkBase):
    """The network store: networks (NetworkBase) and the containers' endpoints on them."""

    def create_netns(self, container_id: str) -> str:
        """A named network namespace ``<runroot>/netns/<id>`` (lo up) for the runtime to join."""
        _check_id(container_id)
        return links.create_netns(os.path.join(self.netns_dir, container_id))

    def attach(self, container_id: str, netns: str | int,
               networks: Sequence[dict[str, Any]] | None = None, *, name: str = "",
               publish: Sequence[Binding] = (), exposed: Sequence[str] = ()) -> dict[str, Any]:
        """Join the namespace ``netns`` (a path, or the pid of a process in it) to ``networks``.

        ``networks``: [{"network": name, "aliases": [...], "ip": "a.b.c.d", "mac": "02:..."}]
        (default: the default network); ``publish``: bindings from ports.parse_publish(); returns
        docker's NetworkSettings.
        """
        _check_id(container_id)
        requests = list(networks) if networks else [{"network": self.config.default_network}]
        if not requests[0].get("network"):
            raise ConfigError("attach needs a network name")
        fd = links.open_netns(netns)
        try:
            with self._transaction() as state:
                self._gc(state)
                if container_id in state["endpoints"]:
                    raise ConflictError(f"container {container_id[:12]} is already attached to networks")
                ep = _new_endpoint(self, name, netns)
                ep["exposed"] = list(exposed)
                state["endpoints"][container_id] = ep
                planned = [self._plan(state, container_id, ep, req) for req in requests]
                taken = [b for cid, e in state["endpoints"].items() if cid != container_id for b in e["ports"]]
                chosen = ports.allocate(list(publish), taken)
                target = planned[0]["IPAddress"]
                ep["ports"] = [{**b, "container_ip": target, "container": container_id} for b in chosen]
                self._write(state)
                try:
                    self._make_links(state, ep, planned, fd)
                    self._apply_rules(state)
                    self._sync_dns(state)
                except BaseException:
                    self._undo(state, container_id, planned)
                    raise
                return self._settings(state, container_id)
        finally:
            os.close(fd)

    def connect(self, network: str, container_id: str, netns: str | int, *, name: str = "",
                aliases: Sequence[str] = (), ip: str = "", mac: str = "") -> dict[str, Any]:
        """``network connect``: one more endpoint for a container (attached or not yet)."""
        _check_id(container_id)
        req = {"network": network, "aliases": list(aliases), "ip": ip, "mac": mac}
        fd = links.open_netns(netns)
        try:
            with self._transaction() as state:
                self._gc(state)
                ep = state["endpoints"].get(container_id)
                if ep is None:
                    ep = state["endpoints"][container_id] = _new_endpoint(self, name, netns)
                plan = self._plan(state, container_id, ep, req)
                self._write(state)
                try:
                    self._make_links(state, ep, [plan], fd)
                    self._sync_dns(state)
                except BaseException:
                    self._undo(state, container_id, [plan])
                    raise
                return self._settings(state, container_id)
        finally:
            os.close(fd)

    def disconnect(self, network: str, container_id: str) -> None:
        """``network disconnect``: remove the container's endpoint on ``network`` (its veth goes now)."""
        with self._transaction() as state:
            rec = self._find(state, network)
            ep = state["endpoints"].get(container_id)
            if ep is None or rec["Name"] not in ep["nets"]:
                raise NotFoundError(f"container {container_id[:12]} is not connected to network {rec['Name']}")
            e = ep["nets"].pop(rec["Name"])
            links.delete_link(e["veth"])
            remaining = list(ep["nets"].values())
            if not remaining:
                ep["ports"] = []
            else:
                for b in ep["ports"]:
                    if b["container_ip"] == e["IPAddress"]:
                        b["container_ip"] = remaining[0]["IPAddress"]
            self._apply_rules(state)
            self._sync_dns(state)

    def detach(self, container_id: str, *, wait: bool = False) -> None:
        """Release everything of a container: addresses, ports, DNS names, its named namespace.

        Links die with their namespace (the kernel deletes them, off our critical path); a veth
        still in a live namespace not made by us is deleted in the background (``wait``: now).
        """
        with self._transaction() as state:
            veths = self._release(state, container_id, delete_links=wait)
            self._apply_rules(state)
            self._sync_dns(state)
        if wait:
            links.wait_gone(veths)

    def check_publish(self, publish: Sequence[Binding], container_id: str = "") -> None:
        """ConflictError if a fixed host port of ``publish`` is taken, as attach() would raise; reserves nothing."""
        state = self._snapshot()
        ports.allocate(list(publish), [b for cid, e in state["endpoints"].items() if cid != container_id
                                       for b in e["ports"]])

    def settings(self, container_id: str) -> dict[str, Any]:
        """docker's NetworkSettings of an attached container (empty ones if it is not attached)."""
        return self._settings(self._snapshot(), container_id)

    def etc_files(self, container_id: str, hostname: str, *, domainname: str = "",
                  dns_servers: Sequence[str] = (), dns_search: Sequence[str] = (),
                  dns_options: Sequence[str] = (), extra_hosts: Sequence[str] = (),
                  host_resolv_conf: str = "/etc/resolv.conf") -> dict[str, str]:
        """The container's ``hosts``, ``hostname`` and ``resolv.conf`` contents (bridge, user or none)."""
        ep = self._snapshot()["endpoints"].get(container_id)
        nets = list(ep["nets"].values()) if ep else []
        first_user = next((e for e in nets if e["NetworkName"] != self.config.default_network), None)
        gateway = nets[0]["Gateway"] if nets else ""
        aliases = [a for e in nets for a in e["Aliases"] if e["NetworkName"] != self.config.default_network]
        return {
            "hosts": etcfiles.build_hosts(hostname, [e["IPAddress"] for e in nets[:1]], domainname=domainname,
                                          extra_hosts=extra_hosts, gateway=gateway, aliases=aliases),
            "hostname": etcfiles.build_hostname(hostname),
            "resolv.conf": etcfiles.build_resolv_conf(
                etcfiles.read_host_resolv_conf(host_resolv_conf), dns=dns_servers, dns_search=dns_search,
                dns_options=dns_options, embedded=first_user["Gateway"] if first_user else ""),
        }

    def counters(self, container_id: str) -> dict[str, dict[str, int]]:
        """NET I/O of an attached container: its interfaces' counters, read in its namespace."""
        ep = self._snapshot()["endpoints"].get(container_id)
        if ep is None:
            raise NotFoundError(f"container {container_id[:12]} has no network endpoints")
        return links.interface_counters(ep["pid"] if ep["pid"] else ep["netns"])

    # -- internals --------------------------------------------------------------------------------

    def _plan(self, state: State, cid: str, ep: dict[str, Any], req: dict[str, Any]) -> dict[str, Any]:
        netname = str(req.get("network") or self.config.default_network)
        is_default = netname == self.config.default_network
        rec = self._ensure_default(state) if is_default else self._find(state, netname)
        if rec["Name"] in ep["nets"]:
            raise ConflictError(f"container {cid[:12]} is already connected to network {rec['Name']}")
        ipam = rec["IPAM"]["Config"][0]
        subnet = addr.parse_cidr(ipam["Subnet"])
        gw = addr.ip_to_int(ipam["Gateway"])
        holders = {addr.ip_to_int(e["nets"][rec["Name"]]["IPAddress"]): c
                   for c, e in state["endpoints"].items() if rec["Name"] in e["nets"]}
        if req.get("ip"):
            if is_default:
                raise ConfigError(f"--ip {req['ip']}: a chosen address is supported on user-defined networks only")
            value = addr.ip_to_int(req["ip"], "--ip")
            if not addr.contains(subnet, value) or value in (subnet[0], subnet[0] + addr.size(subnet) - 1):
                raise ConfigError(f"--ip {req['ip']} is not a host address of network {rec['Name']}'s subnet "
                                  f"{ipam['Subnet']}")
            if value == gw or value in holders:
                who = "the gateway" if value == gw else f"container {state['endpoints'][holders[value]]['name'] or holders[value][:12]}"
                raise ConflictError(f"--ip {req['ip']} is already in use on network {rec['Name']} by {who}")
        else:
            rng = addr.parse_cidr(ipam["IPRange"]) if ipam.get("IPRange") else None
            found = addr.next_free(subnet, set(holders) | {gw}, rng)
            if req.get("prefer"):  # the address of an earlier start (restart keeps it when it is free)
                want = addr.ip_to_int(req["prefer"], "the container's earlier address")
                if addr.contains(rng or subnet, want) and addr.contains(subnet, want) and want not in holders \
                        and want not in (gw, subnet[0], subnet[0] + addr.size(subnet) - 1):
                    found = want
            if found is None:
                raise ConflictError(f"no free address left in network {rec['Name']} ({ipam['Subnet']})")
            value = found
        mac = addr.check_mac(req["mac"]) if req.get("mac") else addr.mac_for_ip(value)
        index = 0
        while any(e["ifname"] == f"eth{index}" for e in ep["nets"].values()):
            index += 1
        aliases = list(req.get("aliases") or ())
        dns_names = [] if is_default else [n for n in (ep["name"], *aliases, cid[:12]) if n]
        e = {
            "NetworkName": rec["Name"], "NetworkID": rec["Id"], "EndpointID": os.urandom(32).hex(),
            "Gateway": ipam["Gateway"], "IPAddress": addr.int_to_ip(value), "IPPrefixLen": subnet[1],
            "MacAddress": mac, "Aliases": aliases, "DNSNames": dns_names,
            "IPAMConfig": {"IPv4Address": req["ip"]} if req.get("ip") else None,
            "ifname": f"eth{index}", "veth": self.config.veth(cid, index), "bridge": rec["Options"][
                "com.docker.network.bridge.name"], "internal": rec["Internal"], "default_route": False,
        }
        if not rec["Internal"] and not any(x["default_route"] for x in ep["nets"].values()):
            e["default_route"] = True
        ep["nets"][rec["Name"]] = e
        return e

    def _make_links(self, state: State, ep: dict[str, Any], planned: list[dict[str, Any]],
                    fd: int) -> None:
        """One ``ip -batch`` run inside the container's namespace makes each veth pair (its host end
        born in the host's namespace), the addresses, lo and the default route; then two ioctls per
        endpoint put the host end on its bridge and bring it up."""
        mtu = self.config.mtu
        host = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
        try:
            lines = ["link set lo up"]
            for e in planned:
                if not links.link_exists(e["bridge"]):
                    self._make_host_side(state, self._find(state, e["NetworkName"]))
                lines.append(f"link add name {e['ifname']} mtu {mtu} address {e['MacAddress']} type veth peer name "
                             f"{e['veth']} mtu {mtu} netns /proc/self/fd/{host}")
                lines.append(f"addr add {e['IPAddress']}/{e['IPPrefixLen']} brd + dev {e['ifname']}")
                lines.append(f"link set {e['ifname']} up")
                if e["default_route"]:
                    lines.append(f"route add default via {e['Gateway']} dev {e['ifname']}")
            links.run_ip_batch(lines, netns_fd=fd, pass_fds=(host,))
        finally:
            os.close(host)
        for e in planned:
            links.set_up(e["veth"], master=e["bridge"])

    def _undo(self, state: State, cid: str, planned: list[dict[str, Any]]) -> None:
        ep = state["endpoints"].get(cid)
        for e in planned:
            links.delete_link(e["veth"])
            if ep is not None:
                ep["nets"].pop(e["NetworkName"], None)
        if ep is not None and not ep["nets"]:
            del state["endpoints"][cid]
        self._write(state)
        try:
            self._apply_rules(state)
            self._sync_dns(state)
        except Exception:  # the original error matters more; the next command repairs the rest
            pass

    def _release(self, state: State, cid: str, *, delete_links: bool) -> list[str]:
        from pallet._linux.procfs import is_alive

        ep = state["endpoints"].pop(cid, None)
        if ep is None:
            return []
        veths = [e["veth"] for e in ep["nets"].values()]
        if ep["owned_netns"]:
            links.delete_netns(ep["netns"])
        elif (ep["pid"] and is_alive(ep["pid"], ep["started"])) or (not ep["pid"] and os.path.exists(ep["netns"])):
            for veth in veths:
                if delete_links:
                    links.delete_link(veth)
                elif links.link_exists(veth):
                    _delete_in_background(veth)
        return veths

    def _gc(self, state: State) -> None:
        """Release endpoints whose namespace is gone (a container that died without a detach)."""
        from pallet._linux.procfs import is_alive

        for cid, ep in list(state["endpoints"].items()):
            gone = not is_alive(ep["pid"], ep["started"]) if ep["pid"] else not os.path.exists(ep["netns"])
            if gone:
                self._release(state, cid, delete_links=False)

    def _sync_dns(self, state: State) -> None:
        """Rewrite each user network's records file; start its responder when it has containers."""
        for rec in state["networks"].values():
            if rec["Name"] == self.config.default_network:
                continue
            records: dict[str, list[str]] = {}
            for ep in state["endpoints"].values():
                e = ep["nets"].get(rec["Name"])
                if e:
                    for n in e["DNSNames"]:
                        records.setdefault(n.lower(), []).append(e["IPAddress"])
            netdir = os.path.join(self.rundir, rec["Id"][:12])
            path = os.path.join(netdir, "dns.json")
            text = json.dumps(records, sort_keys=True)
            try:
                with open(path) as f:
                    same = f.read() == text
            except FileNotFoundError:
                same = False
            if not same:
                os.makedirs(netdir, exist_ok=True)
                with open(f"{path}.tmp", "w") as f:
                    f.write(text)
                os.replace(f"{path}.tmp", path)
            pid_path = os.path.join(netdir, "dns.pid")
            if records and dns.running(pid_path) is None:
                dns.spawn(rec["IPAM"]["Config"][0]["Gateway"], path, pid_path)

    def _settings(self, state: State, cid: str) -> dict[str, Any]:
        ep = state["endpoints"].get(cid) or {"netns": "", "ports": [], "exposed": [], "nets": {}}
        nets = {}
        for name, e in ep["nets"].items():
            nets[name] = {
                "IPAMConfig": e["IPAMConfig"], "Links": None, "Aliases": e["Aliases"] or None,
                "MacAddress": e["MacAddress"], "DriverOpts": None, "NetworkID": e["NetworkID"],
                "EndpointID": e["EndpointID"], "Gateway": e["Gateway"], "IPAddress": e["IPAddress"],
                "IPPrefixLen": e["IPPrefixLen"], "IPv6Gateway": "", "GlobalIPv6Address": "",
                "GlobalIPv6PrefixLen": 0, "DNSNames": e["DNSNames"] or None,
            }
        top = ep["nets"].get(self.config.default_network) or {}
        return {
            "Bridge": "", "SandboxID": "", "SandboxKey": ep["netns"], "HairpinMode": False,
            "LinkLocalIPv6Address": "", "LinkLocalIPv6PrefixLen": 0,
            "Ports": ports.ports_view(ep["ports"], ep["exposed"]),
            "SecondaryIPAddresses": None, "SecondaryIPv6Addresses": None,
            "EndpointID": top.get("EndpointID", ""), "Gateway": top.get("Gateway", ""),
            "GlobalIPv6Address": "", "GlobalIPv6PrefixLen": 0, "IPAddress": top.get("IPAddress", ""),
            "IPPrefixLen": top.get("IPPrefixLen", 0), "IPv6Gateway": "", "MacAddress": top.get("MacAddress", ""),
            "Networks": nets,
        }


def _new_endpoint(store: NetworkStore, name: str, netns: str | int) -> dict[str, Any]:
    from pallet._linux.procfs import start_time

    if isinstance(netns, int):
        return {"name": name, "netns": f"/proc/{netns}/ns/net", "pid": netns, "started": start_time(netns),
                "owned_netns": False, "ports": [], "exposed": [], "nets": {}}
    owned = os.path.dirname(os.path.abspath(netns)) == os.path.abspath(store.netns_dir)
    return {"name": name, "netns": netns, "pid": 0, "started": None, "owned_netns": owned,
            "ports": [], "exposed": [], "nets": {}}


def _check_id(container_id: str) -> None:
    if not container_id or not all(c.isalnum() or c in "_-" for c in container_id):
        raise ConfigError(f"invalid container id {container_id!r}: letters, digits, '_' and '-' only")


def _delete_in_background(veth: str) -> None:
    import subprocess

    subprocess.Popen(["ip", "link", "del", veth], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                     stderr=subprocess.DEVNULL, start_new_session=True)
