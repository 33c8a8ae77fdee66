"""default_spec equals `runc spec` in substance; the differences are the documented ones."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from pallet.oci.defaults import default_spec, make_rootless
from pallet.oci.runtime_spec import OCI_VERSION


def runc_spec(tmp_path: Path, *flags: str) -> dict[str, object]:
    if shutil.which("runc") is None:
        pytest.skip("runc is not installed")
    subprocess.run(["runc", "spec", *flags], cwd=tmp_path, check=True, capture_output=True)
    doc: dict[str, object] = json.loads((tmp_path / "config.json").read_text())
    return doc


def as_pallet_would(runc: dict) -> dict:  # type: ignore[type-arg]
    """runc's document with pallet's documented differences applied."""
    runc["ociVersion"] = OCI_VERSION
    runc["hostname"] = "pallet"
    caps = runc["process"]["capabilities"]
    caps.pop("ambient", None)
    caps.pop("inheritable", None)
    linux = runc["linux"]
    kinds = [ns["type"] for ns in linux["namespaces"]]
    if "cgroup" not in kinds:
        linux["namespaces"].insert(kinds.index("user") if "user" in kinds else len(kinds), {"type": "cgroup"})
    if "/sys/devices/virtual/tpm" not in linux["maskedPaths"]:
        linux["maskedPaths"].append("/sys/devices/virtual/tpm")
    return runc


def test_default_spec_is_runc_spec_in_substance(tmp_path: Path) -> None:
    assert default_spec() == as_pallet_would(runc_spec(tmp_path))


def test_rootless_spec_is_runc_spec_rootless_in_substance(tmp_path: Path) -> None:
    expected = as_pallet_would(runc_spec(tmp_path, "--rootless"))
    expected["linux"]["uidMappings"][0]["hostID"] = os.geteuid()
    expected["linux"]["gidMappings"][0]["hostID"] = os.getegid()
    assert default_spec(rootless=True) == expected


def test_rootless_maps_the_given_user_and_drops_what_a_user_cannot_have() -> None:
    spec = default_spec()
    make_rootless(spec, 1000, 1001)
    linux = spec["linux"]
    assert linux["uidMappings"] == [{"containerID": 0, "hostID": 1000, "size": 1}]
    assert linux["gidMappings"] == [{"containerID": 0, "hostID": 1001, "size": 1}]
    kinds = [ns["type"] for ns in linux["namespaces"]]
    assert "network" not in kinds and kinds.count("user") == 1
    assert "resources" not in linux
    sys_mount = next(m for m in spec["mounts"] if m["destination"] == "/sys")
    assert sys_mount == {"destination": "/sys", "type": "none", "source": "/sys",
                         "options": ["rbind", "nosuid", "noexec", "nodev", "ro"]}
    assert not any(o.startswith(("uid=", "gid=")) for m in spec["mounts"] for o in m.get("options", []))


def test_each_call_returns_a_fresh_document() -> None:
    first = default_spec()
    first["process"]["capabilities"]["bounding"].append("CAP_SYS_ADMIN")
    first["mounts"][1]["options"].append("x")
    second = default_spec()
    assert "CAP_SYS_ADMIN" not in second["process"]["capabilities"]["bounding"]
    assert "x" not in second["mounts"][1]["options"]
    assert second["process"]["capabilities"]["effective"] is not second["process"]["capabilities"]["bounding"]
