"""Networking through the `pallet` CLI: modes, names, published ports, cleanup, in the test's own store.

Every store gets host-global names of its own (bridge, bridge prefix, nftables table: the session tag
plus a counter) and subnets of 10.<x>.0.0/16 with x from the session tag. Traffic only goes to
loopback and to the namespaces the tests create: every container gets ``--dns 127.0.0.1
--dns-search .``, so that no name lookup can leave for the host's resolvers.
"""

from __future__ import annotations

import json
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.helpers.netstore import NO_DNS, NetPallet, free_port, make_store, store_left, wait_links_gone


@pytest.fixture
def pallet(tmp_path: Path) -> Iterator[NetPallet]:
    p = make_store(tmp_path)
    try:
        yield p
    finally:
        p.teardown()


def fetch(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as r:
        return str(r.read().decode())


def test_user_network_names_and_addresses(pallet: NetPallet) -> None:
    subnet = f"{pallet.prefix}.10.0/24"
    pallet("network", "create", "--subnet", subnet, "appnet")
    cid = pallet.out("run", "-d", "--name", "srv", "--network", "appnet", "--network-alias", "www", *NO_DNS,
           "busybox", "sh", "-c", "echo hello > /tmp/index.html; httpd -p 80 -h /tmp; exec nc -ll -p 9000 -e /bin/cat")
    ip = pallet.out("inspect", "-f", "{{.NetworkSettings.Networks.appnet.IPAddress}}", "srv")
    assert ip == f"{pallet.prefix}.10.2"
    script = (f"ping -c1 -W2 srv && ping -c1 -W2 {ip} && wget -qO- http://www/index.html "
              f"&& wget -qO- http://{ip}/index.html && echo via-nc | nc -w 2 srv 9000 && cat /etc/resolv.conf")
    out = pallet.out("run", "--rm", "--network", "appnet", *NO_DNS, "busybox", "sh", "-c", script)
    assert out.count("1 packets received") == 2
    assert out.count("hello") == 2 and "via-nc" in out
    assert out.splitlines()[-2:] == [f"nameserver {pallet.prefix}.10.1", "nameserver 127.0.0.1"]
    hosts = pallet.out("exec", "srv", "cat", "/etc/hosts")
    assert f"{ip}\t{cid[:12]} www" in hosts
    doc = pallet.inspect("srv")["NetworkSettings"]
    net = doc["Networks"]["appnet"]
    assert net["Gateway"] == f"{pallet.prefix}.10.1" and net["IPPrefixLen"] == 24
    assert net["Aliases"] == ["www"] and "srv" in net["DNSNames"]
    assert net["MacAddress"] == "02:42:" + ":".join(f"{int(x):02x}" for x in ip.split("."))
    fixed = f"{pallet.prefix}.10.77"
    out = pallet.out("run", "--rm", "--network", "appnet", "--ip", fixed, "--mac-address", "02:aa:bb:cc:dd:ee",
                     "--add-host", "gw:host-gateway", "--add-host", "db:10.9.9.9", "--hostname", "fixedbox",
                     *NO_DNS, "busybox", "sh", "-c", "ip -o link show eth0; ip -4 -o addr show eth0; cat /etc/hosts")
    assert "link/ether 02:aa:bb:cc:dd:ee" in out and f"inet {fixed}/24" in out
    assert f"{pallet.prefix}.10.1\tgw" in out and "10.9.9.9\tdb" in out and f"{fixed}\tfixedbox" in out
    proc = pallet("run", "--rm", "--network", "appnet", "--ip", ip, "busybox", "true", check=False)
    assert proc.returncode == 125 and f"--ip {ip} is already in use on network appnet by container srv" in proc.stderr
    pallet("rm", "-f", "srv")
    pallet("network", "rm", "appnet")


def test_default_bridge_by_address_not_by_name(pallet: NetPallet) -> None:
    pallet("run", "-d", "--name", "one", *NO_DNS, "busybox", "sleep", "60")
    doc = pallet.inspect("one")["NetworkSettings"]
    ip, gw = doc["IPAddress"], doc["Gateway"]
    assert ip.startswith(pallet.prefix + ".") and gw.startswith(pallet.prefix + ".") and ip != gw
    assert doc["MacAddress"] == "02:42:" + ":".join(f"{int(x):02x}" for x in ip.split("."))
    assert list(doc["Networks"]) == ["bridge"] and doc["Networks"]["bridge"]["IPAddress"] == ip
    proc = pallet("run", "--rm", *NO_DNS, "busybox", "sh", "-c",
                  f"ping -c1 -W2 {ip} && ! ping -c1 -W1 one && ! grep -w one /etc/hosts && hostname -i", check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "1 packets received" in proc.stdout
    other = proc.stdout.split()[-1]
    assert other != ip and other.startswith(pallet.prefix + ".")
    # The host reaches the container on the bridge (traffic inside our own namespaces only).
    assert subprocess.run(["busybox", "ping", "-c1", "-W2", ip], capture_output=True).returncode == 0


def test_published_ports_on_loopback_and_gateway(pallet: NetPallet) -> None:
    local, anyaddr = free_port(), free_port()
    cid = pallet.out("run", "-d", "--name", "web", "-p", f"127.0.0.1:{local}:80", "-p", f"{anyaddr}:80",
                     "--expose", "81", "-P", *NO_DNS, "busybox", "sh", "-c",
                     "echo web > /tmp/index.html; httpd -p 81 -h /tmp; exec httpd -f -p 80 -h /tmp")
    gw = pallet.out("inspect", "-f", "{{.NetworkSettings.Gateway}}", "web")
    assert fetch(f"http://127.0.0.1:{local}/index.html") == "web\n"
    assert fetch(f"http://{gw}:{anyaddr}/index.html") == "web\n"
    assert fetch(f"http://127.0.0.1:{anyaddr}/index.html") == "web\n"
    lines = pallet.out("port", "web").splitlines()
    assert f"80/tcp -> 127.0.0.1:{local}" in lines and f"80/tcp -> 0.0.0.0:{anyaddr}" in lines
    random81 = pallet.out("port", "web", "81")
    assert random81.startswith("0.0.0.0:")
    assert fetch(f"http://127.0.0.1:{random81.split(':')[1]}/index.html") == "web\n"
    ps = pallet.out("ps", "--format", "{{.Ports}}")
    assert f"127.0.0.1:{local}->80/tcp" in ps
    assert cid in pallet.store_state()["endpoints"]
    pallet("rm", "-f", "web")
    assert pallet.store_state()["endpoints"] == {}
    rules = pallet.nft()
    assert str(local) not in rules and str(anyaddr) not in rules
    with pytest.raises(OSError):
        fetch(f"http://127.0.0.1:{local}/index.html")


def test_network_none_has_lo_only(pallet: NetPallet) -> None:
    out = pallet.out("run", "--rm", "--network", "none", "busybox", "sh", "-c", "ip -o link; ip -4 -o addr")
    links = [line for line in out.splitlines() if " link/" in line]
    assert [line.split(":")[1].strip() for line in links] == ["lo"]
    assert "<LOOPBACK,UP,LOWER_UP>" in links[0] and "inet 127.0.0.1/8" in out
    cid = pallet.out("create", "--network", "none", "busybox", "true")
    pallet("start", "-a", cid)
    doc = pallet.inspect(cid)
    assert doc["NetworkSettings"]["Networks"] == {} and doc["NetworkSettings"]["IPAddress"] == ""
    assert not list((pallet.runroot / "netns").glob("*"))


def test_container_mode_shares_the_namespace(pallet: NetPallet) -> None:
    pallet("run", "-d", "--name", "main", *NO_DNS, "busybox", "sh", "-c",
           "echo shared > /tmp/index.html; exec httpd -f -p 8080 -h /tmp")
    ip = pallet.out("inspect", "-f", "{{.NetworkSettings.IPAddress}}", "main")
    out = pallet.out("run", "--rm", "--network", "container:main", "busybox", "sh", "-c",
                     "ip -4 -o addr show eth0; wget -qO- http://127.0.0.1:8080/index.html; hostname")
    assert f"inet {ip}/" in out and "shared" in out
    main_host = pallet.out("inspect", "-f", "{{.Config.Hostname}}", "main")
    assert out.splitlines()[-1] == main_host
    pallet("stop", "-t", "0", "main")
    proc = pallet("run", "--rm", "--network", "container:main", "busybox", "true", check=False)
    assert proc.returncode == 125 and "not running" in proc.stderr and "main" in proc.stderr


def test_host_port_in_use_fails_cleanly(pallet: NetPallet) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        proc = pallet("run", "-d", "-p", f"127.0.0.1:{port}:80", "busybox", "sleep", "60", check=False)
        assert proc.returncode == 125
        assert f"127.0.0.1:{port}" in proc.stderr and "in use" in proc.stderr
        assert proc.stderr.count("\n") == 1
        assert pallet.out("ps", "-aq") == ""
        assert pallet.store_state().get("endpoints", {}) == {}
        assert not (pallet.runroot / "netns").exists() or not list((pallet.runroot / "netns").glob("*"))
    # Another container of the store holding the port is refused as well.
    free = free_port()
    pallet("run", "-d", "--name", "first", "-p", f"{free}:80", *NO_DNS, "busybox", "sleep", "60")
    proc = pallet("run", "-d", "--name", "second", "-p", f"{free}:80", "busybox", "sleep", "60", check=False)
    assert proc.returncode == 125 and f"{free}" in proc.stderr and "already published by container" in proc.stderr
    names = pallet.out("ps", "-a", "--format", "{{.Names}}").split()
    assert "second" not in names
    assert len(pallet.store_state()["endpoints"]) == len(names)


def test_rm_f_removes_veth_address_and_rules(pallet: NetPallet) -> None:
    port = free_port()
    cid = pallet.out("run", "-d", "-p", f"{port}:80", *NO_DNS, "busybox", "sleep", "60")
    veth = pallet.config["veth_prefix"] + cid[: 14 - len(pallet.config["veth_prefix"])] + "0"
    assert Path(f"/sys/class/net/{veth}/master").resolve().name == pallet.config["bridge"]
    ip = pallet.out("inspect", "-f", "{{.NetworkSettings.IPAddress}}", cid)
    assert f"{ip} . {port}" in pallet.nft() or str(port) in pallet.nft()
    assert (pallet.runroot / "netns" / cid).exists()
    pallet("rm", "-f", cid)
    wait_links_gone([veth])
    assert not (pallet.runroot / "netns" / cid).exists()
    assert str(port) not in pallet.nft()
    assert pallet.store_state()["endpoints"] == {}
    # The address is free again: the next container gets it.
    cid2 = pallet.out("run", "-d", *NO_DNS, "busybox", "sleep", "60")
    assert pallet.out("inspect", "-f", "{{.NetworkSettings.IPAddress}}", cid2) == ip


def test_stop_releases_and_restart_keeps_the_address(pallet: NetPallet) -> None:
    pallet("run", "-d", "--name", "aa", *NO_DNS, "busybox", "sleep", "60")
    pallet("run", "-d", "--name", "bb", *NO_DNS, "busybox", "sleep", "60")
    ip_a = pallet.out("inspect", "-f", "{{.NetworkSettings.IPAddress}}", "aa")
    ip_b = pallet.out("inspect", "-f", "{{.NetworkSettings.IPAddress}}", "bb")
    pallet("stop", "-t", "0", "aa", "bb")
    assert pallet.store_state()["endpoints"] == {}
    assert pallet.out("inspect", "-f", "{{.NetworkSettings.IPAddress}}", "bb") == ""
    assert not list((pallet.runroot / "netns").glob("*"))
    pallet("start", "bb")  # the lowest free address is aa's: bb asks for its own again
    assert pallet.out("inspect", "-f", "{{.NetworkSettings.IPAddress}}", "bb") == ip_b
    pallet("restart", "-t", "0", "bb")
    assert pallet.out("inspect", "-f", "{{.NetworkSettings.IPAddress}}", "bb") == ip_b
    pallet("start", "aa")
    assert pallet.out("inspect", "-f", "{{.NetworkSettings.IPAddress}}", "aa") == ip_a


def test_connect_and_disconnect_update_the_record(pallet: NetPallet) -> None:
    pallet("network", "create", "--subnet", f"{pallet.prefix}.20.0/24", "extra")
    pallet("run", "-d", "--name", "box", *NO_DNS, "busybox", "sleep", "60")
    pallet("network", "connect", "--alias", "bx", "extra", "box")
    nets = json.loads(pallet.out("inspect", "-f", "{{json .NetworkSettings.Networks}}", "box"))
    assert sorted(nets) == ["bridge", "extra"] and nets["extra"]["IPAddress"] == f"{pallet.prefix}.20.2"
    assert f"{pallet.prefix}.20.2/24" in pallet.out("exec", "box", "ip", "-4", "-o", "addr")
    out = pallet.out("run", "--rm", "--network", "extra", *NO_DNS, "busybox", "sh", "-c", "ping -c1 -W2 bx")
    assert "1 packets received" in out
    proc = pallet("network", "connect", "extra", "box", check=False)
    assert proc.returncode == 1 and "already connected" in proc.stderr  # docker: 1 for an error outside run (125: flags, run)
    pallet("network", "disconnect", "extra", "box")
    nets = json.loads(pallet.out("inspect", "-f", "{{json .NetworkSettings.Networks}}", "box"))
    assert sorted(nets) == ["bridge"]
    assert f"{pallet.prefix}.20." not in pallet.out("exec", "box", "ip", "-4", "-o", "addr")
    # A stopped container is connected at its next start.
    pallet("stop", "-t", "0", "box")
    pallet("network", "connect", "extra", "box")
    pallet("start", "box")
    assert f"{pallet.prefix}.20." in pallet.out("exec", "box", "ip", "-4", "-o", "addr")
    proc = pallet("network", "disconnect", "nosuch", "box", check=False)
    assert proc.returncode == 1 and "nosuch" in proc.stderr
    pallet("rm", "-f", "box")
    pallet("network", "rm", "extra")


def test_stats_net_io_counts_traffic(pallet: NetPallet) -> None:
    pallet("run", "-d", "--name", "talker", *NO_DNS, "busybox", "sleep", "60")
    ip = pallet.out("inspect", "-f", "{{.NetworkSettings.IPAddress}}", "talker")
    subprocess.run(["busybox", "ping", "-c3", "-s", "1200", "-W2", ip], capture_output=True, check=True)
    rx, _, tx = pallet.out("stats", "--no-stream", "--format", "{{.NetIO}}", "talker").partition(" / ")
    assert rx.endswith("kB") and float(rx[:-2]) >= 3.6  # three 1228-byte echo requests in
    assert tx.endswith("kB") and float(tx[:-2]) >= 3.6  # and three replies out


def test_bad_network_input_creates_nothing(pallet: NetPallet) -> None:
    pallet("network", "create", "--subnet", f"{pallet.prefix}.30.0/24", "usernet")
    cases = [
        (["--ip", f"{pallet.prefix}.0.50"], "user-defined networks only"),
        (["--network", "nosuch"], "network nosuch not found"),
        (["-p", "70000:80"], "'70000'"),
        (["-p", "80/xyz"], "'xyz'"),
        (["--network", "usernet", "--ip", "10.1.2.3"], f"not in the subnet {pallet.prefix}.30.0/24"),
        (["--network", "usernet", "--ip", "300.1.2.3"], "300.1.2.3"),
        (["--network", "usernet", "--mac-address", "zz:42:00:00:00:01"], "zz:42:00:00:00:01"),
        (["--network", "none", "-p", "8080:80"], "--network none"),
        (["--network", "host", "--ip", "10.0.0.1"], "--network host"),
        (["--network", "container:nosuch"], "nosuch"),
        (["--network", "container:x1", "-p", "80"], "conflicting options"),
        (["--network-alias", "al"], "user-defined networks only"),
        (["--dns", "1.2.3"], "'1.2.3'"),
        (["--add-host", "nocolon"], "nocolon"),
    ]
    pallet("create", "--name", "x1", "busybox", "true")
    for flags, message in cases:
        proc = pallet("run", "-d", *flags, "busybox", "true", check=False)
        assert proc.returncode == 125, flags
        assert message in proc.stderr, (flags, proc.stderr)
        assert proc.stderr.count("\n") == 1, proc.stderr
    assert pallet.out("ps", "-aq") == pallet.out("ps", "-aq", "--filter", "name=x1")
    pallet("rm", "x1")
    pallet("network", "rm", "usernet")


def test_host_mode_uses_the_host_network(pallet: NetPallet) -> None:
    out = pallet.out("run", "--rm", "--network", "host", "--add-host", "gw:host-gateway", "busybox", "sh", "-c",
                     "readlink /proc/self/ns/net; hostname; cat /etc/hosts")
    lines = out.splitlines()
    assert lines[0] == Path("/proc/self/ns/net").readlink().name
    assert lines[1] == socket.gethostname()
    assert "127.0.0.1\tgw" in out
    assert pallet.store_state()["endpoints"] == {}


def test_many_containers_on_one_bridge(pallet: NetPallet) -> None:
    """The issue's scale check: containers on one bridge, each with its own address, all reachable."""
    count = 100
    start = time.monotonic()
    procs = []
    for i in range(count):
        procs.append(subprocess.Popen(pallet.argv("run", "-d", *NO_DNS, "busybox", "sleep", "120"),
                                      env=pallet.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
        if len(procs) >= 4 or i == count - 1:
            for p in procs:
                _out, err = p.communicate(timeout=60)
                assert p.returncode == 0, err
            procs = []
    ips = pallet.out("inspect", "-f", "{{.NetworkSettings.IPAddress}}", *pallet.out("ps", "-q").split()).split()
    assert len(ips) == count and len(set(ips)) == count
    pings = [subprocess.Popen(["busybox", "ping", "-c1", "-W3", ip], stdout=subprocess.DEVNULL) for ip in ips]
    assert [p.wait() for p in pings] == [0] * count
    elapsed = time.monotonic() - start
    assert elapsed < 90, elapsed
    ids = pallet.out("ps", "-q").split()
    pallet("rm", "-f", *ids, timeout=120)
    assert store_left(pallet) == []
