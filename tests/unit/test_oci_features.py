"""features(): the runtime-spec features document, compared with `runc features` on this machine."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from pallet._linux.caps import CAP_NAMES
from pallet.errors import ValidationError
from pallet.oci.defaults import default_spec
from pallet.oci.features import features, host_namespaces, kernel_version
from pallet.oci.mountopts import parse_mount_options
from pallet.oci.validate import validate_config


@pytest.fixture(scope="module")
def runc_features() -> dict[str, Any]:
    if shutil.which("runc") is None:
        pytest.skip("runc is not installed")
    out = subprocess.run(["runc", "features"], check=True, capture_output=True, text=True).stdout
    doc: dict[str, Any] = json.loads(out)
    return doc


def test_document_has_every_part_runc_reports(runc_features: dict[str, Any]) -> None:
    ours: dict[str, Any] = json.loads(json.dumps(features()))  # JSON-serialisable
    assert set(runc_features) <= set(ours)
    assert set(runc_features["linux"]) <= set(ours["linux"])
    assert ours["ociVersionMin"] == "1.0.0" and ours["ociVersionMax"] == "1.2.0"
    assert ours["hooks"] == runc_features["hooks"]
    assert set(runc_features["mountOptions"]) <= set(ours["mountOptions"])
    assert ours["linux"]["capabilities"] == runc_features["linux"]["capabilities"] == list(CAP_NAMES)
    assert set(runc_features["linux"]["namespaces"]) <= set(ours["linux"]["namespaces"])
    assert set(runc_features["linux"]["cgroup"]) <= set(ours["linux"]["cgroup"])


def test_seccomp_part_matches_the_host_libseccomp(runc_features: dict[str, Any]) -> None:
    ours = features()["linux"]["seccomp"]
    theirs = runc_features["linux"]["seccomp"]
    assert ours["enabled"] is True
    assert ours["actions"] == theirs["actions"]
    assert ours["operators"] == theirs["operators"]
    assert set(theirs["archs"]) <= set(ours["archs"])  # same libseccomp: at least what runc sees
    assert set(ours["supportedFlags"]) <= set(ours["knownFlags"])
    version = features()["annotations"]["io.github.seccomp.libseccomp.version"]
    assert version == runc_features["annotations"]["io.github.seccomp.libseccomp.version"]


def test_every_advertised_word_is_accepted_by_the_validator() -> None:
    doc = features()
    linux: Any = doc["linux"]
    parse_mount_options(doc["mountOptions"], "mountOptions")
    spec: Any = default_spec()
    spec["process"]["capabilities"]["bounding"] = linux["capabilities"]
    spec["linux"]["namespaces"] = [{"type": kind} for kind in linux["namespaces"]]
    spec["linux"]["uidMappings"] = [{"containerID": 0, "hostID": 0, "size": 1}]
    spec["linux"]["gidMappings"] = [{"containerID": 0, "hostID": 0, "size": 1}]
    seccomp = linux["seccomp"]
    spec["linux"]["seccomp"] = {
        "defaultAction": "SCMP_ACT_ALLOW", "architectures": seccomp["archs"], "flags": seccomp["knownFlags"],
        "listenerPath": "/run/l.sock",
        "syscalls": [{"names": ["getpid"], "action": action,
                      "args": [{"index": 0, "value": 1, "op": op} for op in seccomp["operators"]]}
                     for action in seccomp["actions"]],
    }
    spec["hooks"] = {name: [{"path": "/bin/true"}] for name in doc["hooks"]}
    validate_config(spec)
    spec["process"]["capabilities"]["bounding"] = [*linux["capabilities"], "CAP_NOT_A_CAP"]
    with pytest.raises(ValidationError):
        validate_config(spec)


def test_namespaces_are_those_the_kernel_has(tmp_path: Path) -> None:
    (tmp_path / "self" / "ns").mkdir(parents=True)
    for name in ("mnt", "pid", "net"):
        (tmp_path / "self" / "ns" / name).touch()
    assert host_namespaces(str(tmp_path)) == ["mount", "network", "pid"]
    assert "mount" in host_namespaces()


def test_lsm_and_kernel_dependent_parts_follow_the_host(tmp_path: Path) -> None:
    (tmp_path / "module" / "apparmor" / "parameters").mkdir(parents=True)
    (tmp_path / "module" / "apparmor" / "parameters" / "enabled").write_text("Y\n")
    (tmp_path / "fs" / "selinux").mkdir(parents=True)
    linux: Any = features(sysfs=str(tmp_path))["linux"]
    assert linux["apparmor"] == {"enabled": True} and linux["selinux"] == {"enabled": False}
    (tmp_path / "fs" / "selinux" / "enforce").write_text("0")
    (tmp_path / "module" / "apparmor" / "parameters" / "enabled").write_text("N\n")
    linux = features(sysfs=str(tmp_path))["linux"]
    assert linux["apparmor"] == {"enabled": False} and linux["selinux"] == {"enabled": True}
    assert linux["mountExtensions"] == {"idmap": {"enabled": kernel_version() >= (5, 12)}}


@pytest.mark.parametrize(("release", "expected"), [
    ("6.18.0-1-amd64", (6, 18)), ("5.4.0", (5, 4)), ("5.10rc1", (5, 10)), ("garbage", (0, 0)),
])
def test_kernel_version(release: str, expected: tuple[int, int]) -> None:
    assert kernel_version(release) == expected
