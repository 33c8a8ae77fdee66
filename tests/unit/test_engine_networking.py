"""pallet.engine.networking without root: -p to PortBindings and back, -P, docker's stopped settings."""

from __future__ import annotations

import pytest

from pallet.engine.networking import _bindings, _stopped_settings, endpoint_config, port_bindings
from pallet.errors import ConfigError


def test_port_bindings_docker_shape() -> None:
    pb = port_bindings(["8080:80", "127.0.0.1::53/udp", "9000-9001:9000-9001", "7000-7010:70", "443"])
    assert pb == {
        "80/tcp": [{"HostIp": "", "HostPort": "8080"}],
        "53/udp": [{"HostIp": "127.0.0.1", "HostPort": ""}],
        "9000/tcp": [{"HostIp": "", "HostPort": "9000"}],
        "9001/tcp": [{"HostIp": "", "HostPort": "9001"}],
        "70/tcp": [{"HostIp": "", "HostPort": "7000-7010"}],
        "443/tcp": [{"HostIp": "", "HostPort": ""}],
    }


def test_port_bindings_round_trip_to_store_bindings() -> None:
    specs = ["8080:80", "127.0.0.1::53/udp", "7000-7010:70", "10.0.0.1:81:81/sctp"]
    got = _bindings({"PortBindings": port_bindings(specs)}, [])
    assert got == [
        {"proto": "tcp", "container_port": 80, "host_ip": "0.0.0.0", "host_port": 8080, "host_port_end": 8080},
        {"proto": "udp", "container_port": 53, "host_ip": "127.0.0.1", "host_port": 0, "host_port_end": 0},
        {"proto": "tcp", "container_port": 70, "host_ip": "0.0.0.0", "host_port": 7000, "host_port_end": 7010},
        {"proto": "sctp", "container_port": 81, "host_ip": "10.0.0.1", "host_port": 81, "host_port_end": 81},
    ]


def test_publish_all_adds_exposed_ports_not_published() -> None:
    hc = {"PortBindings": port_bindings(["8080:80"]), "PublishAllPorts": True}
    got = _bindings(hc, ["80/tcp", "443/tcp", "53/udp"])
    assert [(b["container_port"], b["proto"], b["host_port"]) for b in got] == [(80, "tcp", 8080), (443, "tcp", 0),
                                                                              (53, "udp", 0)]
    assert _bindings({"PortBindings": {}, "PublishAllPorts": False}, ["80/tcp"]) == []


@pytest.mark.parametrize("spec", ["70000:80", "80/xyz", "a:b:c:d", "[::1]:80:80", "9000-9002:80-81"])
def test_bad_publish_names_the_value(spec: str) -> None:
    with pytest.raises(ConfigError) as err:
        port_bindings([spec])
    assert repr(spec) in str(err.value) or spec.split(":")[0] in str(err.value)


def test_stopped_settings_keep_networks_without_addresses() -> None:
    running = {"IPAddress": "10.1.0.2", "Ports": {"80/tcp": [{"HostIp": "0.0.0.0", "HostPort": "8080"}]},
               "Networks": {"bridge": {"IPAddress": "10.1.0.2", "Gateway": "10.1.0.1", "NetworkID": "abc",
                                       "MacAddress": "02:42:0a:01:00:02", "Aliases": None}}}
    out = _stopped_settings(running)
    assert out["IPAddress"] == "" and out["Ports"] == {}
    assert out["Networks"]["bridge"]["NetworkID"] == "abc" and out["Networks"]["bridge"]["IPAddress"] == ""


def test_endpoint_config() -> None:
    assert endpoint_config(["db"], "10.0.0.5", "02:42:00:00:00:01") == {
        "IPAMConfig": {"IPv4Address": "10.0.0.5"}, "Aliases": ["db"], "MacAddress": "02:42:00:00:00:01"}
    assert endpoint_config() == {"IPAMConfig": None, "Aliases": None, "MacAddress": ""}
