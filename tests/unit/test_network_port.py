"""`pallet port` output and the network store configuration file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pallet.cli.commands.port import lines
from pallet.errors import ConfigError, NotFoundError
from pallet.network.config import load_config


def test_port_lines() -> None:
    ports = {"80/tcp": [{"HostIp": "0.0.0.0", "HostPort": "8080"}], "443/tcp": None,
             "53/udp": [{"HostIp": "127.0.0.1", "HostPort": "5353"}]}
    assert lines(ports) == ["53/udp -> 127.0.0.1:5353", "80/tcp -> 0.0.0.0:8080"]
    assert lines(ports, "80") == ["0.0.0.0:8080"]
    with pytest.raises(NotFoundError, match="no public port '443/tcp'"):
        lines(ports, "443")


def test_store_config_file(tmp_path: Path) -> None:
    assert load_config(str(tmp_path / "missing.json")).bridge == "pallet0"
    path = tmp_path / "config.json"
    path.write_text(json.dumps({"bridge": "tb0", "table": "t_x", "pools": [["10.3.0.0/16", 24]]}))
    cfg = load_config(str(path))
    assert (cfg.bridge, cfg.table, cfg.pools, cfg.bridge_prefix) == ("tb0", "t_x", (("10.3.0.0/16", 24),), "pallet-")
    path.write_text(json.dumps({"bridgee": "x"}))
    with pytest.raises(ConfigError, match="unknown keys bridgee"):
        load_config(str(path))
