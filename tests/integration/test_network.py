"""pallet.network against the real kernel: bridges, veths, addresses, DNS, published ports, cleanup.

Every store uses its own bridge, bridge prefix and nftables table (the session tag plus a counter)
and subnets from 10.<x>.0.0/16 with x derived from the session tag, skipping anything the host
routes. Traffic only flows between the host and namespaces the tests create.
"""

from __future__ import annotations

import itertools
import json
import os
import socket
import struct
import subprocess
import time
import urllib.request
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.helpers.leaks import SESSION_TAG

from pallet._linux import procfs
from pallet.errors import ConfigError, ConflictError, NotFoundError
from pallet.network import NetworkConfig, NetworkStore, addr, parse_publish
from pallet.network import dns as dnsmod

_counter = itertools.count()
SECOND_OCTET = 100 + zlib.crc32(SESSION_TAG.encode()) % 100
BUSYBOX = "/bin/busybox"


def nft_tables() -> str:
    return subprocess.run(["nft", "list", "tables"], capture_output=True, text=True).stdout


@pytest.fixture
def store(tmp_path: Path) -> Iterator[NetworkStore]:
    n = next(_counter)
    cfg = NetworkConfig(bridge=f"{SESSION_TAG}b{n}", bridge_prefix=f"{SESSION_TAG}{n}-",
                        table=f"{SESSION_TAG}_{n}", pools=[(f"10.{SECOND_OCTET}.0.0/16", 24)],
                        veth_prefix=SESSION_TAG)
    s = NetworkStore(str(tmp_path / "root"), str(tmp_path / "run"), cfg)
    before = set(os.listdir("/sys/class/net"))
    try:
        yield s
    finally:
        s.reset()
        assert f"ip {cfg.table}" not in nft_tables()
        # Links of namespaces that detach() dropped go away in the kernel's own time: wait for them.
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if not [n for n in set(os.listdir("/sys/class/net")) - before if n.startswith(SESSION_TAG)]:
                break
            time.sleep(0.02)


_cids = itertools.count()


def cid(n: int) -> str:
    """A container id unique in the session in its first 6 characters (so veth names never collide)."""
    return f"{next(_cids):06x}" + os.urandom(29).hex()


def veth(store: NetworkStore, c: str, index: int = 0) -> str:
    return store.config.veth(c, index)


def in_ns(ns: str, *args: str, timeout: float = 10) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["nsenter", f"--net={ns}", *args], capture_output=True, text=True, timeout=timeout)


def addrs_in(ns: str) -> dict[str, list[str]]:
    out = json.loads(in_ns(ns, "ip", "-j", "addr").stdout)
    return {i["ifname"]: [f"{a['local']}/{a['prefixlen']}" for a in i["addr_info"] if a["family"] == "inet"]
            for i in out}


def dns_query(server: str, name: str) -> tuple[int, list[str]]:
    qname = b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\0"
    packet = struct.pack("!HHHHHH", 7, 0x0100, 1, 0, 0, 0) + qname + struct.pack("!HH", 1, 1)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(2)
        s.sendto(packet, (server, 53))
        reply = s.recv(4096)
    rcode = struct.unpack("!H", reply[2:4])[0] & 0xF
    count = struct.unpack("!H", reply[6:8])[0]
    ips = [".".join(str(b) for b in reply[len(reply) - 16 * (count - i) + 12:len(reply) - 16 * (count - i) + 16])
           for i in range(count)]
    return rcode, ips


@pytest.fixture
def httpd(tmp_path: Path) -> Iterator[object]:
    """Start busybox httpd in a namespace serving a page naming it; stopped after the test."""
    procs: list[subprocess.Popen[bytes]] = []

    def start(ns: str, text: str, port: int = 80) -> None:
        root = tmp_path / f"www{len(procs)}"
        root.mkdir()
        (root / "index.html").write_text(text)
        procs.append(subprocess.Popen(["nsenter", f"--net={ns}", BUSYBOX, "httpd", "-f", "-p", str(port),
                                       "-h", str(root)]))
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            if f":{port:04X} " in in_ns(ns, "cat", "/proc/net/tcp", "/proc/net/tcp6").stdout:
                return
            time.sleep(0.02)
        raise AssertionError("httpd did not start")

    yield start
    for p in procs:
        p.kill()
        p.wait()


def fetch(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as r:
        return str(r.read().decode())


# -- networks --------------------------------------------------------------------------------------


def test_create_inspect_list_remove_network(store: NetworkStore) -> None:
    net = store.create("front", labels={"tier": "web"})
    subnet = net["IPAM"]["Config"][0]["Subnet"]
    assert subnet.startswith(f"10.{SECOND_OCTET}.") and subnet.endswith("/24")
    bridge = net["Options"]["com.docker.network.bridge.name"]
    assert bridge.startswith(store.config.bridge_prefix)
    assert store.inspect(net["Id"][:8])["Name"] == "front"
    assert net["Labels"] == {"tier": "web"} and net["Containers"] == {}
    shown = subprocess.run(["ip", "-j", "addr", "show", "dev", bridge], capture_output=True, text=True, check=True)
    assert net["IPAM"]["Config"][0]["Gateway"] in shown.stdout
    assert f"ip {store.config.table}" in nft_tables()
    second = store.create("back")
    assert second["IPAM"]["Config"][0]["Subnet"] != subnet
    assert [n["Name"] for n in store.networks()] == ["front", "back"]
    store.remove("front")
    assert not os.path.exists(f"/sys/class/net/{bridge}")
    assert f"ip {store.config.table}" in nft_tables()  # still needed by "back"
    assert store.prune() == ["back"]
    assert f"ip {store.config.table}" not in nft_tables()
    with pytest.raises(NotFoundError, match="network front not found"):
        store.inspect("front")


def test_bad_network_input_changes_nothing(store: NetworkStore) -> None:
    base = f"10.{SECOND_OCTET}.200"
    host = [h for h in addr.host_subnets() if h[1] <= 30]
    store.create("one", subnet=f"{base}.0/24")
    before = store._read()
    with pytest.raises(ConflictError, match="network with name one already exists"):
        store.create("one")
    with pytest.raises(ConflictError, match=rf"--subnet {base}.128/25 overlaps the subnet {base}.0/24 of network one"):
        store.create("two", subnet=f"{base}.128/25")
    with pytest.raises(ConfigError, match=rf"--gateway 10.9.9.1: not a host address of the subnet 10.{SECOND_OCTET}.201.0/24"):
        store.create("two", subnet=f"10.{SECOND_OCTET}.201.0/24", gateway="10.9.9.1")
    with pytest.raises(ConfigError, match="--ip-range"):
        store.create("two", subnet=f"10.{SECOND_OCTET}.201.0/24", ip_range="10.9.9.0/28")
    if host:
        with pytest.raises(ConflictError, match=f"overlaps {addr.cidr(host[0])}, which the host already routes"):
            store.create("two", subnet=addr.cidr(host[0]))
    with pytest.raises(ConfigError, match="invalid network name 'bad name'"):
        store.create("bad name")
    with pytest.raises(ConfigError, match="driver 'overlay'"):
        store.create("two", driver="overlay")
    assert store._read() == before
    assert not any(link.startswith(f"{store.config.bridge_prefix}") and link != _bridge(store, "one")
                   for link in os.listdir("/sys/class/net"))


def _bridge(store: NetworkStore, name: str) -> str:
    return str(store.inspect(name)["Options"]["com.docker.network.bridge.name"])


# -- attachments -----------------------------------------------------------------------------------


def test_attach_sets_up_the_namespace_and_detach_cleans(store: NetworkStore) -> None:
    c = cid(1)
    ns = store.create_netns(c)
    assert addrs_in(ns) == {"lo": ["127.0.0.1/8"]}
    settings = store.attach(c, ns, name="web", publish=parse_publish("127.0.0.1::80"))
    ip, gw = settings["IPAddress"], settings["Gateway"]
    assert settings["MacAddress"] == "02:42:" + ":".join(f"{int(x):02x}" for x in ip.split("."))
    assert settings["Networks"]["bridge"]["IPAddress"] == ip
    assert list(settings["Ports"]) == ["80/tcp"] and settings["Ports"]["80/tcp"][0]["HostIp"] == "127.0.0.1"
    assert addrs_in(ns) == {"lo": ["127.0.0.1/8"], "eth0": [f"{ip}/24"]}
    route = in_ns(ns, "ip", "route", "show", "default").stdout
    assert f"default via {gw} dev eth0" in route
    link = in_ns(ns, "ip", "-j", "link", "show", "eth0").stdout
    assert settings["MacAddress"] in link and '"UP"' in link
    host_end = veth(store, c)
    assert open(f"/sys/class/net/{host_end}/master/uevent").read().find(store.config.bridge) >= 0
    assert subprocess.run([BUSYBOX, "ping", "-c1", "-W2", ip], capture_output=True).returncode == 0
    counters = store.counters(c)
    assert counters["eth0"]["rx_packets"] >= 1 and counters["eth0"]["tx_bytes"] > 0 and "lo" not in counters
    assert "10." in store.inspect("bridge")["Containers"][c]["IPv4Address"]
    store.detach(c, wait=True)
    assert not os.path.exists(ns) and not os.path.exists(f"/sys/class/net/{host_end}")
    assert store.settings(c)["Networks"] == {}
    assert "elements" not in subprocess.run(["nft", "list", "map", "ip", store.config.table, "addrports"],
                                            capture_output=True, text=True).stdout


def test_user_network_dns_by_name_and_address(store: NetworkStore, httpd: object) -> None:
    store.create("app")
    a, b = cid(1), cid(2)
    ns_a, ns_b = store.create_netns(a), store.create_netns(b)
    sa = store.attach(a, ns_a, [{"network": "app"}], name="alpha")
    sb = store.attach(b, ns_b, [{"network": "app", "aliases": ["db", "cache"]}], name="beta")
    ip_a, ip_b = sa["Networks"]["app"]["IPAddress"], sb["Networks"]["app"]["IPAddress"]
    gw = sa["Networks"]["app"]["Gateway"]
    assert sa["IPAddress"] == ""  # as docker: the top-level fields belong to the default bridge
    assert sb["Networks"]["app"]["DNSNames"] == ["beta", "db", "cache", b[:12]]
    for name in ("beta", "BETA", "db", "cache", b[:12]):
        assert dns_query(gw, name) == (0, [ip_b]), name
    assert dns_query(gw, "nosuch.example") == (dnsmod.RCODE_REFUSED, [])
    # From inside alpha: busybox's resolver asks the network's responder, then the address answers.
    look = in_ns(ns_a, BUSYBOX, "nslookup", "db", gw)
    assert ip_b in look.stdout, look.stdout + look.stderr
    httpd(ns_b, "hello from beta")  # type: ignore[operator]
    got = in_ns(ns_a, BUSYBOX, "wget", "-q", "-O", "-", f"http://{ip_b}/")
    assert got.stdout == "hello from beta"
    assert in_ns(ns_b, BUSYBOX, "ping", "-c1", "-W2", ip_a).returncode == 0
    files = store.etc_files(a, "alpha")
    assert files["resolv.conf"].startswith(f"nameserver {gw}\n")
    assert files["hosts"].splitlines()[-1] == f"{ip_a}\talpha"
    # Disconnect updates the records at once; connect brings them back.
    store.disconnect("app", b)
    assert dns_query(gw, "db") == (dnsmod.RCODE_REFUSED, [])
    assert not os.path.exists(f"/sys/class/net/{veth(store, b)}")
    sb2 = store.connect("app", b, ns_b, name="beta", aliases=["db"], ip=ip_b)
    assert sb2["Networks"]["app"]["IPAddress"] == ip_b
    assert dns_query(gw, "db") == (0, [ip_b])
    with pytest.raises(ConflictError, match=r"network app has active endpoints .*alpha.*beta"):
        store.remove("app")
    store.detach(a)
    store.detach(b)
    net_id = store.inspect("app")["Id"]
    pid_path = os.path.join(store.rundir, net_id[:12], "dns.pid")
    pid = dnsmod.running(pid_path)
    assert pid is not None
    store.remove("app")
    assert dnsmod.running(pid_path) is None
    assert procfs.state(pid) in (None, "Z")  # gone (or a zombie for the test's subreaper to reap)


def test_default_bridge_has_no_name_resolution(store: NetworkStore) -> None:
    a, b = cid(1), cid(2)
    ns_a, ns_b = store.create_netns(a), store.create_netns(b)
    store.attach(a, ns_a, name="alpha")
    sb = store.attach(b, ns_b, name="beta")
    assert in_ns(ns_a, BUSYBOX, "ping", "-c1", "-W2", sb["IPAddress"]).returncode == 0
    assert sb["Networks"]["bridge"]["DNSNames"] is None
    assert not os.path.exists(os.path.join(store.rundir, store.inspect("bridge")["Id"][:12], "dns.pid"))
    assert store.etc_files(b, "beta")["resolv.conf"].find(sb["Gateway"]) < 0


def test_published_ports_reach_the_container_on_localhost_and_gateway(store: NetworkStore, httpd: object) -> None:
    c = cid(3)
    ns = store.create_netns(c)
    settings = store.attach(c, ns, name="web", publish=parse_publish("80") + parse_publish("127.0.0.1::8080"))
    httpd(ns, "published")  # type: ignore[operator]
    httpd(ns, "on 8080", 8080)  # type: ignore[operator]
    any_port = settings["Ports"]["80/tcp"][0]["HostPort"]
    local_port = settings["Ports"]["8080/tcp"][0]["HostPort"]
    assert fetch(f"http://127.0.0.1:{any_port}/") == "published"
    assert fetch(f"http://{settings['Gateway']}:{any_port}/") == "published"
    assert fetch(f"http://127.0.0.1:{local_port}/") == "on 8080"
    # The same host port again: refused, and nothing half-made.
    other = cid(4)
    ns2 = store.create_netns(other)
    before = store._read()
    links_before = set(os.listdir("/sys/class/net"))
    with pytest.raises(ConflictError, match=f"0.0.0.0:{any_port} -> 80/tcp: host port already published by container {c[:12]}"):
        store.attach(other, ns2, publish=parse_publish(f"{any_port}:80"))
    assert store._read() == before and set(os.listdir("/sys/class/net")) == links_before
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        held = s.getsockname()[1]
        with pytest.raises(ConflictError, match=f"127.0.0.1:{held} .*in use by a process of the host"):
            store.attach(other, ns2, publish=parse_publish(f"127.0.0.1:{held}:80"))
    assert store._read() == before and set(os.listdir("/sys/class/net")) == links_before
    store.detach(c, wait=True)
    with pytest.raises(OSError):
        fetch(f"http://127.0.0.1:{any_port}/")


def test_ip_and_mac_on_user_network_and_bad_choices(store: NetworkStore) -> None:
    net = store.create("fixed", subnet=f"10.{SECOND_OCTET}.210.0/24", ip_range=f"10.{SECOND_OCTET}.210.128/25")
    a, b = cid(5), cid(6)
    ns_a, ns_b = store.create_netns(a), store.create_netns(b)
    sa = store.attach(a, ns_a, [{"network": "fixed", "ip": f"10.{SECOND_OCTET}.210.7", "mac": "02:aa:bb:cc:dd:ee"}])
    assert sa["Networks"]["fixed"]["IPAddress"] == f"10.{SECOND_OCTET}.210.7"
    assert "02:aa:bb:cc:dd:ee" in in_ns(ns_a, "ip", "link", "show", "eth0").stdout
    sb = store.attach(b, ns_b, [{"network": "fixed"}])
    assert sb["Networks"]["fixed"]["IPAddress"] == f"10.{SECOND_OCTET}.210.128"  # from --ip-range
    c = cid(7)
    ns_c = store.create_netns(c)
    before = store._read()
    with pytest.raises(ConfigError, match=r"--ip 10.9.9.9 is not a host address of network fixed's subnet"):
        store.attach(c, ns_c, [{"network": "fixed", "ip": "10.9.9.9"}])
    with pytest.raises(ConflictError, match=rf"--ip 10.{SECOND_OCTET}.210.7 is already in use on network fixed by container"):
        store.attach(c, ns_c, [{"network": "fixed", "ip": f"10.{SECOND_OCTET}.210.7"}])
    with pytest.raises(ConflictError, match="already in use on network fixed by the gateway"):
        store.attach(c, ns_c, [{"network": "fixed", "ip": net["IPAM"]["Config"][0]["Gateway"]}])
    with pytest.raises(ConfigError, match="user-defined networks only"):
        store.attach(c, ns_c, [{"network": "bridge", "ip": "10.1.1.1"}])
    with pytest.raises(NotFoundError, match="network nosuch not found"):
        store.attach(c, ns_c, [{"network": "nosuch"}])
    assert store._read()["endpoints"] == before["endpoints"]
    assert addrs_in(ns_c) == {"lo": ["127.0.0.1/8"]}


def test_two_networks_and_pid_namespace_with_gc(store: NetworkStore) -> None:
    store.create("n1")
    store.create("n2", internal=True)
    proc = subprocess.Popen(["unshare", "--net", "--", "sleep", "60"])
    try:
        time.sleep(0.05)
        c = cid(8)
        s = store.attach(c, proc.pid, [{"network": "n1"}, {"network": "n2"}], name="multi")
        assert set(s["Networks"]) == {"n1", "n2"}
        ns = f"/proc/{proc.pid}/ns/net"
        found = addrs_in(ns)
        assert found["eth0"] == [f"{s['Networks']['n1']['IPAddress']}/24"]
        assert found["eth1"] == [f"{s['Networks']['n2']['IPAddress']}/24"]
        assert in_ns(ns, "ip", "route").stdout.count("default") == 1  # internal networks give no route
        rules = subprocess.run(["nft", "list", "chain", "ip", store.config.table, "forward"],
                               capture_output=True, text=True).stdout
        assert f'iifname "{_bridge(store, "n2")}" oifname != "{_bridge(store, "n2")}" drop' in rules
        # A process sharing the namespace (container:<id>) sees the same addresses.
        joined = subprocess.run(["nsenter", f"--net={ns}", "ip", "-br", "addr", "show", "eth0"],
                                capture_output=True, text=True).stdout
        assert s["Networks"]["n1"]["IPAddress"] in joined
    finally:
        proc.kill()
        proc.wait()
    # The container died without a detach: the next command releases its addresses.
    c2 = cid(9)
    ns2 = store.create_netns(c2)
    s2 = store.attach(c2, ns2, [{"network": "n1"}])
    assert s2["Networks"]["n1"]["IPAddress"] == s["Networks"]["n1"]["IPAddress"]
    assert c not in store._read()["endpoints"]


def test_none_mode_has_lo_only(store: NetworkStore) -> None:
    from pallet.network.links import joined_netns, loopback_up_here, open_netns

    proc = subprocess.Popen(["unshare", "--net", "--", "sleep", "60"])
    try:
        time.sleep(0.05)
        ns = f"/proc/{proc.pid}/ns/net"
        assert "UP" not in in_ns(ns, "ip", "-br", "link", "show", "lo").stdout.split()[1]
        fd = open_netns(proc.pid)
        try:
            with joined_netns(fd):
                loopback_up_here()
        finally:
            os.close(fd)
        assert in_ns(ns, "ip", "-br", "link").stdout.split()[:2] == ["lo", "UNKNOWN"]
        assert addrs_in(ns) == {"lo": ["127.0.0.1/8"]}
        files = store.etc_files(cid(10), "lonely")
        assert files["hosts"].splitlines()[-1].endswith("ip6-allrouters")
    finally:
        proc.kill()
        proc.wait()


def test_hundred_attachments_distinct_and_reachable(store: NetworkStore) -> None:
    ids = [cid(i) for i in range(100)]
    ips = []
    t0 = time.perf_counter()
    for c in ids:
        ips.append(store.attach(c, store.create_netns(c))["IPAddress"])
    elapsed = time.perf_counter() - t0
    assert len(set(ips)) == 100
    macs = {e["MacAddress"] for e in store.inspect("bridge")["Containers"].values()}
    assert len(macs) == 100
    pings = [subprocess.Popen([BUSYBOX, "ping", "-c1", "-W3", ip], stdout=subprocess.DEVNULL) for ip in ips]
    assert [p.wait() for p in pings] == [0] * 100
    assert elapsed < 30
    for c in ids:
        store.detach(c)
    assert store._read()["endpoints"] == {}


def test_parallel_attach_never_hands_out_an_address_twice(store: NetworkStore, tmp_path: Path) -> None:
    store.create("par")
    code = f"""
import sys
from pallet.network import NetworkConfig, NetworkStore
cfg = NetworkConfig(bridge={store.config.bridge!r}, bridge_prefix={store.config.bridge_prefix!r},
                    table={store.config.table!r}, pools={list(store.config.pools)!r})
s = NetworkStore({os.path.dirname(store.dir)!r}, {os.path.dirname(store.rundir)!r}, cfg)
for c in sys.argv[1:]:
    print(s.attach(c, s.create_netns(c), [{{"network": "par"}}])["Networks"]["par"]["IPAddress"])
"""
    groups = [[cid(100 + 10 * g + i) for i in range(5)] for g in range(4)]
    procs = [subprocess.Popen([os.sys.executable, "-c", code, *g], stdout=subprocess.PIPE, text=True) for g in groups]
    outs = [p.communicate(timeout=60)[0].split() for p in procs]
    assert [p.returncode for p in procs] == [0] * 4
    got = [ip for out in outs for ip in out]
    assert len(got) == 20 and len(set(got)) == 20


def test_reset_leaves_nothing(store: NetworkStore) -> None:
    store.create("x")
    c = cid(11)
    store.attach(c, store.create_netns(c), [{"network": "x"}, {"network": "bridge"}],
                 publish=parse_publish("127.0.0.1::80"))
    bridges = [_bridge(store, "x"), store.config.bridge]
    store.reset()
    assert f"ip {store.config.table}" not in nft_tables()
    for name in [*bridges, veth(store, c), veth(store, c, 1)]:
        assert not os.path.exists(f"/sys/class/net/{name}"), name
    assert os.listdir(store.netns_dir) == []
    assert store.networks() == []
