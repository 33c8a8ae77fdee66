"""pallet.network without root: addresses, ports, rules, DNS messages, /etc files, modes."""

from __future__ import annotations

import fcntl
import os
import socket
import struct
from pathlib import Path

import pytest

from pallet.errors import ConfigError, ConflictError
from pallet.network import addr, dns, etcfiles, nft, ports
from pallet.network.config import NetworkConfig
from pallet.network.links import parse_net_dev
from pallet.network.modes import parse_network_mode


def test_cidr_parsing_and_overlap() -> None:
    assert addr.parse_cidr("172.18.0.0/16") == (addr.ip_to_int("172.18.0.0"), 16)
    assert addr.cidr(addr.parse_cidr("10.1.2.0/24")) == "10.1.2.0/24"
    assert addr.overlaps(addr.parse_cidr("10.0.0.0/8"), addr.parse_cidr("10.5.0.0/16"))
    assert not addr.overlaps(addr.parse_cidr("10.0.0.0/16"), addr.parse_cidr("10.1.0.0/16"))
    with pytest.raises(ConfigError, match=r"'10.0.0.1/8'.*host bits.*10.0.0.0/8"):
        addr.parse_cidr("10.0.0.1/8", "--subnet")
    for bad in ("10.0.0.0", "10.0.0.0/33", "10.0.0/8", "10.0.0.256/24", "a.b.c.d/8"):
        with pytest.raises(ConfigError, match="--subnet"):
            addr.parse_cidr(bad, "--subnet")


def test_mac_is_derived_from_the_address_as_docker_does() -> None:
    assert addr.mac_for_ip(addr.ip_to_int("172.17.0.2")) == "02:42:ac:11:00:02"
    assert addr.check_mac("02:42:AC:11:00:09") == "02:42:ac:11:00:09"
    with pytest.raises(ConfigError, match="multicast"):
        addr.check_mac("01:00:5e:00:00:01")
    with pytest.raises(ConfigError, match="six hex bytes"):
        addr.check_mac("02:42:ac")


def test_pools_and_subnet_choice_skip_taken_subnets() -> None:
    cands = addr.pool_subnets(addr.DEFAULT_POOLS)
    assert addr.cidr(cands[0]) == "172.17.0.0/16"
    assert addr.cidr(cands[14]) == "172.31.0.0/16"
    assert addr.cidr(cands[15]) == "192.168.0.0/20"
    taken = [addr.parse_cidr("172.17.0.0/16"), addr.parse_cidr("172.18.5.0/24")]
    assert addr.cidr(addr.choose_subnet(cands, taken) or (0, 0)) == "172.19.0.0/16"
    assert addr.choose_subnet(cands[:1], taken) is None


def test_next_free_skips_network_broadcast_and_used() -> None:
    net = addr.parse_cidr("10.9.0.0/30")
    gw = net[0] + 1
    assert addr.next_free(net, {gw}) == net[0] + 2
    assert addr.next_free(net, {gw, net[0] + 2}) is None
    wide = addr.parse_cidr("10.9.0.0/24")
    rng = addr.parse_cidr("10.9.0.128/25")
    assert addr.int_to_ip(addr.next_free(wide, set(), rng) or 0) == "10.9.0.128"


def test_host_subnets_sees_loopback_free_routes() -> None:
    found = addr.host_subnets()
    assert all(0 < p <= 32 for _, p in found)
    assert not any(a >> 24 == 127 for a, _ in found)


def test_parse_publish_forms() -> None:
    assert ports.parse_publish("8080:80") == [
        {"proto": "tcp", "container_port": 80, "host_ip": "0.0.0.0", "host_port": 8080, "host_port_end": 8080}]
    b = ports.parse_publish("127.0.0.1::53/udp")[0]
    assert (b["host_ip"], b["host_port"], b["proto"], b["container_port"]) == ("127.0.0.1", 0, "udp", 53)
    assert ports.parse_publish("80")[0]["host_port"] == 0
    rng = ports.parse_publish("9000-9002:8000-8002")
    assert [(x["host_port"], x["container_port"]) for x in rng] == [(9000, 8000), (9001, 8001), (9002, 8002)]
    pick = ports.parse_publish("9000-9005:80")[0]
    assert (pick["host_port"], pick["host_port_end"]) == (9000, 9005)


@pytest.mark.parametrize("spec, message", [
    ("0:80", "host port '0'.*1 to 65535"),
    ("8080:70000", "container port '70000'.*1 to 65535"),
    ("8080:80/icmp", "protocol 'icmp'"),
    ("1.2.3:80:80", "invalid IPv4 address '1.2.3'"),
    ("9000-9001:80-82", "different lengths"),
    ("90-80:80", "end is below the start"),
    ("[::1]:80:80", "IPv6"),
])
def test_parse_publish_rejects_bad_input(spec: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        ports.parse_publish(spec)


def test_allocate_refuses_a_port_held_by_a_host_socket_and_by_another_container() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        held = s.getsockname()[1]
        with pytest.raises(ConflictError, match=f"127.0.0.1:{held} .*in use by a process of the host"):
            ports.allocate(ports.parse_publish(f"127.0.0.1:{held}:80"), [])
    other = {**ports.parse_publish("18555:80")[0], "container": "c0ffee" * 4}
    with pytest.raises(ConflictError, match=r"18555.*published by container c0ffeec0ffee"):
        ports.allocate(ports.parse_publish("127.0.0.1:18555:81"), [other])
    got = ports.allocate(ports.parse_publish("80") + ports.parse_publish("81/udp"), [])
    assert all(1 <= b["host_port"] <= 65535 and b["host_port"] == b["host_port_end"] for b in got)
    ranged = ports.allocate(ports.parse_publish("18555-18556:80"), [other])
    assert ranged[0]["host_port"] == 18556


def test_ports_view_is_dockers_shape() -> None:
    b = ports.allocate(ports.parse_publish("127.0.0.1::80"), [])
    view = ports.ports_view(b, ports.parse_expose("443"))
    assert view["443/tcp"] is None
    assert view["80/tcp"] == [{"HostIp": "127.0.0.1", "HostPort": str(b[0]["host_port"])}]
    assert ports.parse_expose("8000-8001/udp") == ["8000/udp", "8001/udp"]


def test_nft_render_holds_only_its_own_table() -> None:
    nets = [{"bridge": "br-a", "subnet": "10.7.0.0/24", "internal": False},
            {"bridge": "br-i", "subnet": "10.8.0.0/24", "internal": True}]
    binds = [{"proto": "tcp", "container_port": 80, "host_ip": "0.0.0.0", "host_port": 8080,
              "container_ip": "10.7.0.2"},
             {"proto": "udp", "container_port": 53, "host_ip": "127.0.0.1", "host_port": 5353,
              "container_ip": "10.7.0.3"}]
    script = nft.render("t1", nets, binds)
    for line in script.splitlines():
        assert " ip t1 " in line or line.startswith("add table ip t1"), line
    assert 'ip saddr 10.7.0.0/24 oifname != "br-a" masquerade' in script
    assert 'iifname "br-i" oifname != "br-i" drop' in script
    assert "10.8.0.0/24" not in script  # an internal network is not masqueraded
    assert "add element ip t1 anyports { tcp . 8080 : 10.7.0.2 . 80 }" in script
    assert "add element ip t1 addrports { 127.0.0.1 . udp . 5353 : 10.7.0.3 . 53 }" in script


def _query(name: str, qtype: int = dns.QTYPE_A, ident: int = 0x1234) -> bytes:
    qname = b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\0"
    return struct.pack("!HHHHHH", ident, 0x0100, 1, 0, 0, 0) + qname + struct.pack("!HH", qtype, 1)


def test_dns_answers_known_names_and_refuses_others() -> None:
    records = {"web": ["10.7.0.2", "10.7.0.4"], "db": ["10.7.0.3"]}
    reply = dns.answer(_query("WEB"), records)
    assert reply is not None
    ident, flags, qd, an = struct.unpack("!HHHH", reply[:8])
    assert (ident, flags & 0xF, qd, an) == (0x1234, 0, 1, 2)
    assert reply.endswith(bytes([10, 7, 0, 4]))
    assert bytes([10, 7, 0, 2]) in reply
    refused = dns.answer(_query("example.org"), records)
    assert refused is not None and struct.unpack("!H", refused[2:4])[0] & 0xF == dns.RCODE_REFUSED
    aaaa = dns.answer(_query("db", dns.QTYPE_AAAA), records)
    assert aaaa is not None and struct.unpack("!HH", aaaa[2:6])[0] & 0xF == 0 and aaaa[6:8] == b"\0\0"
    bad = dns.answer(b"\x00\x01\x01", records)
    assert bad is not None and struct.unpack("!H", bad[2:4])[0] & 0xF == dns.RCODE_FORMERR
    assert dns.answer(struct.pack("!HHHHHH", 1, 0x8000, 1, 0, 0, 0) + b"\0\0\1\0\1", records) is None


def test_hosts_file() -> None:
    text = etcfiles.build_hosts("abc123", ["172.17.0.2"], extra_hosts=["db:10.0.0.5", "gw=host-gateway"],
                                gateway="172.17.0.1")
    lines = text.splitlines()
    assert lines[0] == "127.0.0.1\tlocalhost"
    assert "10.0.0.5\tdb" in lines and "172.17.0.1\tgw" in lines
    assert lines[-1] == "172.17.0.2\tabc123"
    assert etcfiles.build_hosts("h", ["1.2.3.4"], domainname="example").splitlines()[-1] == "1.2.3.4\th.example h"
    with pytest.raises(ConfigError, match="--add-host 'nocolon'"):
        etcfiles.build_hosts("h", [], extra_hosts=["nocolon"])
    with pytest.raises(ConfigError, match=r"invalid IPv4 address '1\.2\.3'"):
        etcfiles.build_hosts("h", [], extra_hosts=["x:1.2.3"])


def test_resolv_conf_leaves_out_loopback_and_takes_options() -> None:
    host = "# comment\nnameserver 127.0.0.53\nnameserver 10.1.1.1\nnameserver ::1\nsearch a.example b.example\noptions edns0\n"
    assert etcfiles.build_resolv_conf(host) == "nameserver 10.1.1.1\nsearch a.example b.example\noptions edns0\n"
    only_local = etcfiles.build_resolv_conf("nameserver 127.0.0.1\n")
    assert "127.0.0.1" not in only_local and only_local.startswith("nameserver ")
    custom = etcfiles.build_resolv_conf(host, dns=["10.2.2.2"], dns_search=["c.example"], dns_options=["ndots:2"])
    assert custom == "nameserver 10.2.2.2\nsearch c.example\noptions ndots:2\n"
    emb = etcfiles.build_resolv_conf(host, embedded="10.7.0.1")
    assert emb.splitlines()[:2] == ["nameserver 10.7.0.1", "nameserver 10.1.1.1"]
    with pytest.raises(ConfigError, match=r"--dns '10\.0\.0'"):
        etcfiles.build_resolv_conf(host, dns=["10.0.0"])


def test_network_modes() -> None:
    assert parse_network_mode("") == ("network", "bridge")
    assert parse_network_mode("none") == ("none", "")
    assert parse_network_mode("host") == ("host", "")
    assert parse_network_mode("container:web") == ("container", "web")
    assert parse_network_mode("mynet") == ("network", "mynet")
    with pytest.raises(ConfigError, match="container: needs"):
        parse_network_mode("container:")
    with pytest.raises(ConfigError, match="'a/b'"):
        parse_network_mode("a/b")


def test_config_validates_names() -> None:
    assert NetworkConfig(bridge_prefix="ab-").user_bridge("0123456789abcdef") == "ab-0123456789ab"
    with pytest.raises(ConfigError, match="bridge name"):
        NetworkConfig(bridge="x" * 16)
    with pytest.raises(ConfigError, match="table name"):
        NetworkConfig(table="bad table")


def test_parse_net_dev() -> None:
    text = ("Inter-|   Receive |  Transmit\n face |bytes    packets errs drop fifo frame compressed multicast|...\n"
            "    lo: 10 1 0 0 0 0 0 0 10 1 0 0 0 0 0 0\n"
            "  eth0: 1500 12 1 2 0 0 0 0 900 8 3 4 0 0 0 0\n")
    assert parse_net_dev(text) == {"eth0": {"rx_bytes": 1500, "rx_packets": 12, "rx_errors": 1, "rx_dropped": 2,
                                            "tx_bytes": 900, "tx_packets": 8, "tx_errors": 3, "tx_dropped": 4}}


def test_an_unreadable_network_state_does_not_keep_its_lock(tmp_path: Path) -> None:
    from pallet.network.store import NetworkBase

    base = NetworkBase(str(tmp_path / "root"), str(tmp_path / "run"))
    os.makedirs(base.dir)
    state = Path(base.dir, "state.json")
    state.write_text("{not json")
    with pytest.raises(ValueError):
        with base._transaction():
            pass
    state.write_text('{"networks": {}, "endpoints": {}}')
    fd = os.open(Path(base.dir, "lock"), os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # free: the failed transaction let it go
    finally:
        os.close(fd)
    with base._transaction() as s:
        assert s == {"networks": {}, "endpoints": {}}
