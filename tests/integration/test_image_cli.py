"""The image commands as a user runs them (in-process `pallet` with temporary roots)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from pallet.cli.main import main

pytestmark = pytest.mark.skipif(not os.path.exists("/bin/busybox"), reason="busybox-static not installed")


def _pallet(tmp_path: Path, capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(["--root", str(tmp_path / "root"), "--runroot", str(tmp_path / "run"), *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_image_commands(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _pallet(tmp_path, capsys, "image", "build-busybox")
    assert code == 0 and out.startswith("sha256:")
    image_id = out.strip()
    code, out, _ = _pallet(tmp_path, capsys, "images")
    header, row = out.splitlines()
    assert header.split() == ["REPOSITORY", "TAG", "IMAGE", "ID", "CREATED", "SIZE"]
    assert row.split()[:3] == ["busybox", "latest", image_id[7:19]]
    assert _pallet(tmp_path, capsys, "tag", "busybox", "localhost:5000/me/bb:v1")[0] == 0
    code, out, _ = _pallet(tmp_path, capsys, "images", "--format", "{{.Repository}}:{{.Tag}}")
    assert sorted(out.split()) == ["busybox:latest", "localhost:5000/me/bb:v1"]
    code, out, _ = _pallet(tmp_path, capsys, "image", "inspect", "busybox")
    [doc] = json.loads(out)
    assert doc["Id"] == image_id and doc["Config"]["Cmd"] == ["sh"] and doc["Os"] == "linux"
    assert sorted(doc["RepoTags"]) == ["busybox:latest", "localhost:5000/me/bb:v1"]
    assert doc["RootFS"]["Layers"] and doc["GraphDriver"]["Name"] in ("overlay2", "vfs")
    assert doc["Size"] > 1_000_000
    code, out, _ = _pallet(tmp_path, capsys, "history", "-q", "busybox")
    assert out.split() == [image_id[7:19]]
    archive = tmp_path / "bb.tar"
    assert _pallet(tmp_path, capsys, "save", "-o", str(archive), "busybox")[0] == 0
    code, out, _ = _pallet(tmp_path, capsys, "rmi", "busybox", "localhost:5000/me/bb:v1")
    assert out.splitlines() == ["Untagged: busybox:latest", "Untagged: localhost:5000/me/bb:v1", f"Deleted: {image_id}"]
    code, out, err = _pallet(tmp_path, capsys, "rmi", "busybox")
    assert code == 1 and "No such image: busybox" in err
    code, out, _ = _pallet(tmp_path, capsys, "load", "-i", str(archive))
    assert out.strip() == "Loaded image: busybox:latest"
    code, out, err = _pallet(tmp_path, capsys, "image", "inspect", "nosuch")
    assert code == 1 and "No such image: nosuch" in err
    code, out, err = _pallet(tmp_path, capsys, "import", "-c", "BOGUS x", str(archive))
    assert code == 1 and "'BOGUS' is not a supported instruction" in err  # docker: 1 outside run
    code, out, err = _pallet(tmp_path, capsys, "load", "-i", str(tmp_path / "missing.tar"))
    assert code == 1 and "missing.tar does not exist" in err
