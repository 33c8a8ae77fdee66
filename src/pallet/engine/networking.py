"""The engine's side of networking: a container's network mode, endpoints, published ports, /etc files.

pallet.network owns bridges, addresses, rules and DNS; this module decides, per container, what to ask
of it and keeps docker's fields of the record in step:

- ``check_create`` (at create): the network mode, ``-p``/``-P``, ``--ip``, ``--mac-address``,
  ``--network-alias``, ``--dns*`` and ``--add-host`` checked together, before anything exists; the
  requested endpoints are kept in ``record["Pallet"]["Endpoints"]`` (docker's EndpointsConfig shape).
- ``setup`` (at every start, before the runtime runs): a named netns with its endpoints attached for
  bridge and user networks, the other container's namespace for ``container:<ref>``, none for ``host``;
  the netns path goes into ``record["Pallet"]["NetNS"]`` (specgen puts it into config.json),
  ``NetworkSettings`` gets what the store returned, and the container dir gets its hosts, hostname and
  resolv.conf (bind-mounted by specgen).  For ``none`` the runtime makes a new namespace (no path in
  config.json: the intermediate's unshare, while the runtime's parent makes the cgroups) and
  ``created`` brings its lo up before the container starts (no named netns to make, mount and drop).
- ``teardown`` (at exit, on a failed start, at rm): addresses, port rules and DNS names released, the
  namespace dropped; the addresses are remembered so that a restart asks for them again.
- ``connect``/``disconnect`` (``network connect``/``disconnect``) and ``net_io`` (``stats``).

Lock order: a container's record lock, then the network store's lock.
"""

from __future__ import annotations

import os

from pallet.atomicfile import write_atomic
from pallet.errors import ConfigError, ConflictError, NotFoundError, PalletError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import Any

    from pallet.engine.service import Engine
    from pallet.network import NetworkStore

    Record = dict[str, Any]

_STORES: dict[tuple[str, str], NetworkStore] = {}


def network_store(engine: Engine) -> NetworkStore:
    """The network store of the engine's roots (its host-global names from <root>/networks/config.json)."""
    key = (engine.root, engine.runroot)
    if key not in _STORES:
        from pallet.network import NetworkStore

        _STORES[key] = NetworkStore(engine.root, engine.runroot)
    return _STORES[key]


# -- input: the CLI's flags and docker's create body ---------------------------------------------

def port_bindings(specs: Sequence[str]) -> dict[str, list[dict[str, str]]]:
    """``-p`` values -> docker's HostConfig.PortBindings ({"80/tcp": [{"HostIp": "", "HostPort": "8080"}]})."""
    from pallet.network.ports import parse_publish

    out: dict[str, list[dict[str, str]]] = {}
    for spec in specs:
        for b in parse_publish(spec):
            lo, hi = b["host_port"], b["host_port_end"]
            host_port = "" if not lo else str(lo) if lo == hi else f"{lo}-{hi}"
            host_ip = "" if b["host_ip"] == "0.0.0.0" else b["host_ip"]
            out.setdefault(f"{b['container_port']}/{b['proto']}", []).append({"HostIp": host_ip, "HostPort": host_port})
    return out


def endpoint_config(aliases: Sequence[str] = (), ip: str = "", mac: str = "") -> dict[str, Any]:
    """One entry of docker's NetworkingConfig.EndpointsConfig."""
    return {"IPAMConfig": {"IPv4Address": ip} if ip else None, "Aliases": list(aliases) or None, "MacAddress": mac}


def _bindings(record_hc: Record, exposed: Sequence[str]) -> list[dict[str, Any]]:
    """HostConfig.PortBindings (plus every exposed port with -P) -> pallet.network bindings."""
    out: list[dict[str, Any]] = []
    pb = record_hc.get("PortBindings") or {}
    if not pb and not record_hc.get("PublishAllPorts"):
        return out  # nothing published: no ports module to load
    from pallet.network.ports import parse_publish

    for key, entries in pb.items():
        port, _, proto = str(key).partition("/")
        for entry in entries or [{}]:
            host_ip = (entry or {}).get("HostIp") or ""
            host_port = str((entry or {}).get("HostPort") or "")
            spec = f"{host_ip}:{host_port}:{port}" if host_ip else f"{host_port}:{port}" if host_port else port
            out.extend(parse_publish(f"{spec}/{proto or 'tcp'}"))
    if record_hc.get("PublishAllPorts"):
        published = {f"{b['container_port']}/{b['proto']}" for b in out}
        for key in exposed:
            if key not in published:
                port, _, proto = key.partition("/")
                out.extend(parse_publish(f"{port}/{proto or 'tcp'}"))
    return out


def mode_of(engine: Engine, hc: Record) -> tuple[str, str]:
    """(kind, argument) of HostConfig.NetworkMode: ("network", name), ("none"|"host", ""), ("container", ref)."""
    from pallet.network.modes import parse_network_mode

    mode = str(hc.get("NetworkMode") or "default")
    if mode in ("none", "host") or mode.startswith("container:"):
        return parse_network_mode(mode)  # no network store needed (its import and config cost ~4 ms)
    return parse_network_mode(mode, network_store(engine).config.default_network)


def check_create(engine: Engine, cfg: Record, hc: Record, endpoints: Record | None) -> Record:
    """Check the network options of a new container; returns its EndpointsConfig (network -> request).

    ``cfg`` (Config merged with the image) gets the published ports in ExposedPorts and, with
    ``--network host``, the host's name as Hostname (docker's behaviour).
    """
    kind, arg = mode_of(engine, hc)
    endpoints = dict(endpoints or {})
    requests = [e for e in endpoints.values() if e]
    ip = next((str((e.get("IPAMConfig") or {}).get("IPv4Address") or "") for e in requests
               if (e.get("IPAMConfig") or {}).get("IPv4Address")), "")
    mac = next((str(e.get("MacAddress")) for e in requests if e.get("MacAddress")), "") or str(cfg.get("MacAddress") or "")
    aliases = [a for e in requests for a in (e.get("Aliases") or [])]
    publish = _bindings(hc, [])
    mode = hc.get("NetworkMode")
    if kind != "network":
        if ip:
            raise ConfigError(f"invalid --ip {ip}: a chosen address needs a user-defined network, not --network {mode}")
        if mac:
            raise ConfigError(f"invalid --mac-address {mac}: --network {mode} has no interface to set it on")
        if aliases:
            raise ConfigError(f"invalid --network-alias {','.join(aliases)}: aliases need a user-defined network, "
                              f"not --network {mode}")
    if kind == "container":
        for flag, value in (("-p/--publish", publish), ("-P/--publish-all", hc.get("PublishAllPorts")),
                            ("--dns", hc.get("Dns")), ("--dns-search", hc.get("DnsSearch")),
                            ("--dns-option", hc.get("DnsOptions")), ("--add-host", hc.get("ExtraHosts")),
                            ("--hostname", cfg.get("Hostname"))):
            if value:
                raise ConfigError(f"conflicting options: {flag} and --network {mode} (the container shares the "
                                  "network, the name and the /etc files of the other one)")
        engine.store.resolve(arg)  # NotFoundError names it
        return {}
    if kind == "none" and (publish or hc.get("PublishAllPorts")):
        raise ConfigError(f"conflicting options: -p/-P and --network {mode} (a container without a network "
                          "cannot publish ports)")
    from pallet.network import etcfiles

    for spec in hc.get("ExtraHosts") or []:
        if kind == "none" and spec.partition(":" if ":" in spec else "=")[2] == "host-gateway":
            raise ConfigError(f"invalid --add-host {spec!r}: host-gateway needs a network with a gateway, "
                              f"not --network {mode}")
        etcfiles.parse_add_host(spec, "127.0.0.1")
    for server in hc.get("Dns") or []:
        if ":" not in server:
            from pallet.network.addr import ip_to_int

            ip_to_int(server, f"--dns {server!r}")
    if kind == "host":
        if not cfg.get("Hostname"):
            import socket

            cfg["Hostname"] = socket.gethostname()
        return {}
    if kind == "none":
        return {}
    store = network_store(engine)
    default = arg == store.config.default_network
    if default and ip:
        raise ConfigError(f"invalid --ip {ip}: a chosen address is supported on user-defined networks only, "
                          f"not on the default network {arg!r} (create one with `pallet network create`)")
    if default and aliases:
        raise ConfigError(f"invalid --network-alias {','.join(aliases)}: aliases are supported on user-defined "
                          f"networks only, not on the default network {arg!r}")
    if mac:
        from pallet.network.addr import check_mac

        mac = check_mac(mac)
    if not default:
        net = store.inspect(arg)  # NotFoundError: network <arg> not found
        arg = str(net["Name"])
        if ip:
            from pallet.network.addr import contains, ip_to_int, parse_cidr

            subnet = parse_cidr(net["IPAM"]["Config"][0]["Subnet"])
            if not contains(subnet, ip_to_int(ip, "--ip")):
                raise ConfigError(f"invalid --ip {ip}: not in the subnet {net['IPAM']['Config'][0]['Subnet']} "
                                  f"of network {arg}")
    publish = _bindings(hc, list((cfg.get("ExposedPorts") or {}).keys()))
    if publish:
        store.check_publish(publish)  # a fixed host port in use fails now, before anything is made
        exposed = dict(cfg.get("ExposedPorts") or {})
        for b in publish:
            exposed.setdefault(f"{b['container_port']}/{b['proto']}", {})
        cfg["ExposedPorts"] = exposed
    return {arg: endpoint_config(aliases, ip, mac)}


# -- start and exit -------------------------------------------------------------------------------

def _read(path: str) -> str:
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return ""


def setup(engine: Engine, record: Record) -> None:
    """Give the container its network before its process starts (see the module's docstring)."""
    cid = str(record["Id"])
    cfg, hc = record["Config"], record["HostConfig"]
    private = record.setdefault("Pallet", {})
    kind, arg = mode_of(engine, hc)
    hostname = str(cfg.get("Hostname") or cid[:12])
    settings: Record = _empty_settings()
    if kind == "host":
        from pallet.network.etcfiles import parse_add_host

        extra = "".join("{1}\t{0}\n".format(*parse_add_host(s, "127.0.0.1")) for s in hc.get("ExtraHosts") or [])
        files = {"hosts": _read("/etc/hosts") + extra, "hostname": hostname + "\n",
                 "resolv.conf": _host_resolv(hc)}
        private["NetNS"] = None
    elif kind == "container":
        files, private["NetNS"] = _join_container(engine, record, arg)
    elif kind == "none":
        teardown(engine, record)  # a named netns of an earlier version's start, if any
        files, private["NetNS"] = _none_files(record, hostname), None
    else:
        store = network_store(engine)
        teardown(engine, record)  # a leftover of a start that crashed, if any
        private["NetNS"] = store.create_netns(cid)
        try:
            if kind == "network":
                settings = _attach(engine, store, record, private["NetNS"])
            files = store.etc_files(cid, hostname, domainname=str(cfg.get("Domainname") or ""),
                                    dns_servers=hc.get("Dns") or (), dns_search=hc.get("DnsSearch") or (),
                                    dns_options=hc.get("DnsOptions") or (), extra_hosts=hc.get("ExtraHosts") or ())
        except BaseException:
            teardown(engine, record)
            raise
    for name, text in files.items():
        write_atomic(engine.store.path(cid, name), text)
    record["NetworkSettings"] = settings


def _none_files(record: Record, hostname: str) -> dict[str, str]:
    """``--network none``: the /etc files NetworkStore.etc_files gives a container without endpoints,
    made without the network store (nothing of it is needed)."""
    from pallet.network import etcfiles

    cfg, hc = record["Config"], record["HostConfig"]
    return {
        "hosts": etcfiles.build_hosts(hostname, [], domainname=str(cfg.get("Domainname") or ""),
                                      extra_hosts=hc.get("ExtraHosts") or (), gateway="", aliases=[]),
        "hostname": etcfiles.build_hostname(hostname),
        "resolv.conf": etcfiles.build_resolv_conf(
            etcfiles.read_host_resolv_conf("/etc/resolv.conf"), dns=hc.get("Dns") or (),
            dns_search=hc.get("DnsSearch") or (), dns_options=hc.get("DnsOptions") or (), embedded=""),
    }


def _attach(engine: Engine, store: NetworkStore, record: Record, netns: str) -> Record:
    cfg, hc = record["Config"], record["HostConfig"]
    private = record["Pallet"]
    last = private.get("LastIPs") or {}
    requests = []
    for net, ep in (private.get("Endpoints") or {}).items():
        ep = ep or {}
        ip = str((ep.get("IPAMConfig") or {}).get("IPv4Address") or "")
        requests.append({"network": net, "aliases": list(ep.get("Aliases") or []), "ip": ip,
                         "mac": str(ep.get("MacAddress") or ""), "prefer": "" if ip else last.get(net, "")})
    if not requests:  # disconnected from every network: lo only
        return _empty_settings()
    exposed = list((cfg.get("ExposedPorts") or {}).keys())
    settings: Record = store.attach(str(record["Id"]), netns, requests, name=str(record["Name"]).lstrip("/"),
                                    publish=_bindings(hc, exposed), exposed=exposed)
    return settings


def _join_container(engine: Engine, record: Record, ref: str) -> tuple[dict[str, str], str]:
    """``--network container:<ref>``: the other's namespace, hostname and /etc files, if it runs."""
    from pallet._linux.procfs import is_alive

    try:
        other = engine.get(ref)
    except NotFoundError:
        raise NotFoundError(f"cannot join the network of container {ref!r} (--network "
                            f"{record['HostConfig'].get('NetworkMode')}): no such container") from None
    pid = int(other["State"].get("Pid") or 0)
    if other["Id"] == record["Id"]:
        raise ConfigError(f"invalid --network {record['HostConfig'].get('NetworkMode')}: a container cannot join itself")
    if not other["State"]["Running"] or not is_alive(pid, (other.get("Pallet") or {}).get("PidStart")):
        raise ConflictError(f"cannot join the network of container {ref}: it is not running (start it first)")
    record["Config"]["Hostname"] = other["Config"].get("Hostname") or other["Id"][:12]
    files = {name: _read(engine.store.path(other["Id"], name)) for name in ("hosts", "hostname", "resolv.conf")}
    netns = (other.get("Pallet") or {}).get("NetNS") or f"/proc/{pid}/ns/net"
    return files, str(netns)


def _host_resolv(hc: Record) -> str:
    """--network host: the host's resolv.conf (its loopback resolvers work there) unless --dns* replace lines."""
    text = _read("/etc/resolv.conf")
    if not (hc.get("Dns") or hc.get("DnsSearch") or hc.get("DnsOptions")):
        return text
    from pallet.network.etcfiles import build_resolv_conf

    return build_resolv_conf(text, dns=hc.get("Dns") or (), dns_search=hc.get("DnsSearch") or (),
                             dns_options=hc.get("DnsOptions") or ())


def _empty_settings() -> Record:
    return {"Bridge": "", "SandboxID": "", "SandboxKey": "", "Ports": {}, "IPAddress": "", "IPPrefixLen": 0,
            "Gateway": "", "MacAddress": "", "EndpointID": "", "Networks": {}}


def teardown(engine: Engine, record: Record) -> None:
    """Release the container's network (safe to call twice; a no-op when it has none)."""
    cid = str(record["Id"])
    private = record.setdefault("Pallet", {})
    netns = private.get("NetNS")
    owned = os.path.join(engine.runroot, "netns", cid)  # NetworkStore.create_netns's path
    if netns and netns != owned:  # another container's namespace: nothing of ours to release
        private["NetNS"] = None
        return
    if not netns and not os.path.exists(owned):
        return
    settings = record.get("NetworkSettings") or {}
    if mode_of(engine, record["HostConfig"])[0] == "network":
        network_store(engine).detach(cid)
        last = {n: e.get("IPAddress") for n, e in (settings.get("Networks") or {}).items() if e.get("IPAddress")}
        if last:
            private["LastIPs"] = last
    from pallet.network.links import delete_netns

    delete_netns(owned)
    private["NetNS"] = None
    record["NetworkSettings"] = _stopped_settings(settings)


def _stopped_settings(settings: Record) -> Record:
    """docker's NetworkSettings of a stopped container: the networks listed, no addresses, no ports."""
    out = _empty_settings()
    for name, e in (settings.get("Networks") or {}).items():
        out["Networks"][name] = {**e, "EndpointID": "", "Gateway": "", "IPAddress": "", "IPPrefixLen": 0,
                                 "MacAddress": "", "DNSNames": None}
    return out


# -- network connect / disconnect, stats ------------------------------------------------------------

def connect(engine: Engine, ref: str, network: str, *, aliases: Sequence[str] = (), ip: str = "",
            mac: str = "") -> None:
    """``network connect``: attach now if the container runs, and at every later start."""
    cid = engine.get(ref)["Id"]
    store = network_store(engine)
    with engine.store.lock(cid):
        record = engine.store.read(cid)
        kind, _arg = mode_of(engine, record["HostConfig"])
        if kind != "network":
            raise ConflictError(f"container {ref} uses --network {record['HostConfig'].get('NetworkMode')}: "
                                "it cannot be connected to other networks")
        name = str(store.inspect(network)["Name"])
        private = record.setdefault("Pallet", {})
        endpoints = private.setdefault("Endpoints", {})
        if name in endpoints or name in (record.get("NetworkSettings") or {}).get("Networks", {}):
            raise ConflictError(f"container {ref} is already connected to network {name}")
        if name == store.config.default_network and (ip or aliases):
            raise ConfigError(f"--ip and --alias are supported on user-defined networks only, not on {name}")
        if record["State"]["Running"] and private.get("NetNS"):
            record["NetworkSettings"] = store.connect(name, cid, private["NetNS"], name=record["Name"].lstrip("/"),
                                                      aliases=aliases, ip=ip, mac=mac)
        endpoints[name] = endpoint_config(aliases, ip, mac)
        engine.store.write(record)
    engine.event(record, "connect", network=name)


def disconnect(engine: Engine, ref: str, network: str, *, force: bool = False) -> None:
    """``network disconnect``: detach now if the container runs, and no more at later starts."""
    cid = engine.get(ref)["Id"]
    store = network_store(engine)
    with engine.store.lock(cid):
        record = engine.store.read(cid)
        try:
            name = str(store.inspect(network)["Name"])
        except NotFoundError:
            if not force:
                raise
            name = network
        private = record.setdefault("Pallet", {})
        endpoints = private.setdefault("Endpoints", {})
        live = name in ((record.get("NetworkSettings") or {}).get("Networks") or {})
        if name not in endpoints and not live:
            raise NotFoundError(f"container {ref} is not connected to network {name}")
        if live and record["State"]["Running"] and private.get("NetNS"):
            store.disconnect(name, cid)
            record["NetworkSettings"] = store.settings(cid)
        else:
            record.get("NetworkSettings", {}).get("Networks", {}).pop(name, None)
        endpoints.pop(name, None)
        engine.store.write(record)
    engine.event(record, "disconnect", network=name)


def net_io(engine: Engine, record: Record) -> tuple[int, int]:
    """(rx bytes, tx bytes) of the container's interfaces, lo excluded (stats' NET I/O)."""
    from pallet.network import interface_counters

    counters: dict[str, dict[str, int]] = {}
    try:
        if (record.get("NetworkSettings") or {}).get("Networks"):
            counters = network_store(engine).counters(str(record["Id"]))
        elif record["State"].get("Pid"):
            counters = interface_counters(int(record["State"]["Pid"]))
    except (PalletError, OSError):  # not attached, or its namespace went away while reading: no traffic
        pass
    return (sum(c.get("rx_bytes", 0) for c in counters.values()),
            sum(c.get("tx_bytes", 0) for c in counters.values()))
