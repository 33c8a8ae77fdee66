"""`pallet network ...` as a user runs it, on the test's own roots and host-global names."""

from __future__ import annotations

import json
import os
import subprocess
import zlib
from pathlib import Path

import pytest
from tests.helpers.leaks import SESSION_TAG

from pallet.cli.main import main
from pallet.network import NetworkStore

OCTET = 100 + zlib.crc32(SESSION_TAG.encode() + b"cli") % 100


@pytest.fixture
def roots(tmp_path: Path) -> list[str]:
    (tmp_path / "root" / "networks").mkdir(parents=True)
    (tmp_path / "root" / "networks" / "config.json").write_text(json.dumps({
        "bridge": f"{SESSION_TAG}c0", "bridge_prefix": f"{SESSION_TAG}c-", "table": f"{SESSION_TAG}_cli",
        "pools": [[f"10.{OCTET}.0.0/16", 24]], "veth_prefix": SESSION_TAG,
    }))
    args = ["--root", str(tmp_path / "root"), "--runroot", str(tmp_path / "run")]
    yield args
    NetworkStore(str(tmp_path / "root"), str(tmp_path / "run")).reset()


def test_network_commands(roots: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*roots, "network", "create", "--subnet", f"10.{OCTET}.50.0/24", "--label", "k=v", "web"]) == 0
    net_id = capsys.readouterr().out.strip()
    assert len(net_id) == 64
    bridge = f"{SESSION_TAG}c-{net_id}"[:15]
    assert os.path.exists(f"/sys/class/net/{bridge}")
    assert main([*roots, "network", "ls"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split() == ["NETWORK", "ID", "NAME", "DRIVER", "SCOPE"]
    assert [line.split()[1] for line in out[1:]] == ["bridge", "web"]
    assert main([*roots, "network", "inspect", "-f", "{{.Name}} {{.Internal}} {{.Labels}}", "web"]) == 0
    assert capsys.readouterr().out == "web false map[k:v]\n"
    assert main([*roots, "network", "create", "web"]) == 1  # docker: 1 for every error outside run
    assert "network with name web already exists" in capsys.readouterr().err
    assert main([*roots, "network", "create", "--subnet", f"10.{OCTET}.50.128/25", "other"]) == 1
    assert f"overlaps the subnet 10.{OCTET}.50.0/24 of network web" in capsys.readouterr().err
    assert main([*roots, "network", "rm", "web", "nosuch"]) == 1
    captured = capsys.readouterr()
    assert captured.out == "web\n" and "network nosuch not found" in captured.err
    assert not os.path.exists(f"/sys/class/net/{bridge}")
    assert main([*roots, "network", "create", "spare"]) == 0
    capsys.readouterr()
    assert main([*roots, "network", "prune", "-f"]) == 0
    assert capsys.readouterr().out == "Deleted Networks:\nspare\n"
    rules = subprocess.run(["nft", "list", "table", "ip", f"{SESSION_TAG}_cli"], capture_output=True, text=True).stdout
    assert f"10.{OCTET}.50.0/24" not in rules and "masquerade" in rules  # only the default network's rules remain
