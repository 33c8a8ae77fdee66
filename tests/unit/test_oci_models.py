"""The TypedDict models describe real documents: runc's, pallet's own defaults, state and process."""

from __future__ import annotations

import json
import shutil
import subprocess
import typing
from pathlib import Path

import pytest

from pallet.oci import runtime_spec as rs
from pallet.oci.defaults import default_spec
from pallet.oci.validate import validate_config, validate_process


def conforms(value: object, hint: object, path: str = "") -> list[str]:
    """Problems of ``value`` against the type ``hint`` (unknown keys of a TypedDict included)."""
    origin = typing.get_origin(hint)
    if origin in (typing.Required, typing.NotRequired):
        return conforms(value, typing.get_args(hint)[0], path)
    if typing.is_typeddict(hint):
        if not isinstance(value, dict):
            return [f"{path}: not an object"]
        hints = typing.get_type_hints(hint, include_extras=True)
        problems = [f"{path}.{k}: unknown key" for k in value if k not in hints]
        # __required_keys__ misses Required[] under postponed annotations (3.11): read the hints.
        total = hint.__total__  # type: ignore[attr-defined]
        required = [
            k for k, h in hints.items()
            if typing.get_origin(h) is typing.Required or (total and typing.get_origin(h) is not typing.NotRequired)
        ]
        problems += [f"{path}.{k}: missing" for k in required if k not in value]
        for k, v in value.items():
            if k in hints:
                problems += conforms(v, hints[k], f"{path}.{k}")
        return problems
    if origin is typing.Literal:
        return [] if value in typing.get_args(hint) else [f"{path}: {value!r} not in {typing.get_args(hint)}"]
    if origin is list:
        if not isinstance(value, list):
            return [f"{path}: not a list"]
        (inner,) = typing.get_args(hint)
        return [p for i, v in enumerate(value) for p in conforms(v, inner, f"{path}[{i}]")]
    if origin is dict:
        if not isinstance(value, dict):
            return [f"{path}: not a map"]
        _, inner = typing.get_args(hint)
        return [p for k, v in value.items() for p in conforms(v, inner, f"{path}[{k!r}]")]
    if hint is int:
        return [] if isinstance(value, int) and not isinstance(value, bool) else [f"{path}: not an int"]
    if hint in (str, bool):
        return [] if isinstance(value, hint) else [f"{path}: not a {hint}"]
    raise AssertionError(f"unhandled hint {hint!r} at {path}")


def runc_spec(tmp_path: Path, *flags: str) -> dict[str, object]:
    if shutil.which("runc") is None:
        pytest.skip("runc is not installed")
    subprocess.run(["runc", "spec", *flags], cwd=tmp_path, check=True, capture_output=True)
    doc: dict[str, object] = json.loads((tmp_path / "config.json").read_text())
    return doc


@pytest.mark.parametrize("flags", [(), ("--rootless",)], ids=["default", "rootless"])
def test_runc_spec_round_trips_through_the_model(tmp_path: Path, flags: tuple[str, ...]) -> None:
    doc = runc_spec(tmp_path, *flags)
    assert conforms(doc, rs.Spec) == []
    validate_config(doc)
    assert json.loads(json.dumps(doc)) == doc


def test_conformance_check_catches_unknown_keys_and_wrong_types() -> None:
    doc = default_spec()
    doc["process"]["terminl"] = True
    doc["root"]["readonly"] = "yes"
    problems = conforms(doc, rs.Spec)
    assert ".process.terminl: unknown key" in problems
    assert ".root.readonly: not a <class 'bool'>" in problems


@pytest.mark.parametrize("rootless", [False, True])
def test_default_spec_conforms_and_validates(rootless: bool) -> None:
    doc = default_spec(rootless)
    assert conforms(doc, rs.Spec) == []
    validate_config(doc)


def test_a_full_runtime_spec_1_2_document_conforms_and_validates() -> None:
    doc = default_spec()
    doc["domainname"] = "example"
    doc["annotations"] = {"org.example.key": "value"}
    doc["hooks"] = {
        name: [{"path": "/bin/true", "args": ["true"], "env": ["A=b"], "timeout": 5}]
        for name in ("prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop")
    }
    process = doc["process"]
    process["consoleSize"] = {"height": 24, "width": 80}
    process["user"] = {"uid": 0, "gid": 0, "umask": 0o22, "additionalGids": [1, 2]}
    process["capabilities"]["inheritable"] = []
    process["capabilities"]["ambient"] = ["CAP_KILL"]
    process["apparmorProfile"] = "unconfined"
    process["selinuxLabel"] = ""
    process["oomScoreAdj"] = 100
    process["ioPriority"] = {"class": "IOPRIO_CLASS_BE", "priority": 4}
    process["scheduler"] = {"policy": "SCHED_OTHER", "nice": 5, "flags": ["SCHED_FLAG_RESET_ON_FORK"]}
    process["execCPUAffinity"] = {"initial": "0", "final": "0-1"}
    doc["mounts"].append({
        "destination": "/data", "type": "bind", "source": "/srv", "options": ["rbind", "rro", "idmap"],
        "uidMappings": [{"containerID": 0, "hostID": 100000, "size": 65536}],
        "gidMappings": [{"containerID": 0, "hostID": 100000, "size": 65536}],
    })
    linux = doc["linux"]
    linux["namespaces"].append({"type": "time"})
    linux["timeOffsets"] = {"monotonic": {"secs": 10, "nanosecs": 0}, "boottime": {"secs": -5, "nanosecs": 1}}
    linux["devices"] = [{"type": "c", "path": "/dev/fuse", "major": 10, "minor": 229, "fileMode": 0o666,
                         "uid": 0, "gid": 0}]
    linux["cgroupsPath"] = "/pallet/test"
    linux["resources"] = {
        "devices": [{"allow": False, "access": "rwm"}, {"allow": True, "type": "c", "major": 10, "minor": 229,
                                                        "access": "rw"}],
        "memory": {"limit": 1 << 28, "reservation": 1 << 27, "swap": 1 << 29, "kernel": -1, "kernelTCP": -1,
                   "swappiness": 10, "disableOOMKiller": False, "useHierarchy": True, "checkBeforeUpdate": True},
        "cpu": {"shares": 1024, "quota": 50000, "burst": 0, "period": 100000, "realtimeRuntime": 0,
                "realtimePeriod": 0, "cpus": "0-1", "mems": "0", "idle": 0},
        "pids": {"limit": 100},
        "blockIO": {"weight": 500, "leafWeight": 300,
                    "weightDevice": [{"major": 254, "minor": 0, "weight": 100, "leafWeight": 50}],
                    "throttleReadBpsDevice": [{"major": 254, "minor": 0, "rate": 1 << 20}],
                    "throttleWriteBpsDevice": [{"major": 254, "minor": 0, "rate": 1 << 20}],
                    "throttleReadIOPSDevice": [{"major": 254, "minor": 0, "rate": 100}],
                    "throttleWriteIOPSDevice": [{"major": 254, "minor": 0, "rate": 100}]},
        "hugepageLimits": [{"pageSize": "2MB", "limit": 1 << 21}],
        "network": {"classID": 0x100001, "priorities": [{"name": "eth0", "priority": 1}]},
        "rdma": {"mlx5_1": {"hcaHandles": 3, "hcaObjects": 10000}},
        "unified": {"memory.high": "max", "io.weight": "100"},
    }
    linux["intelRdt"] = {"closID": "guaranteed", "l3CacheSchema": "L3:0=7f0", "memBwSchema": "MB:0=20",
                         "enableCMT": True, "enableMBM": False}
    linux["sysctl"] = {"net.ipv4.ip_forward": "1", "kernel.shmmax": "1000000", "fs.mqueue.msg_max": "10"}
    linux["seccomp"] = {
        "defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 1, "architectures": ["SCMP_ARCH_X86_64"],
        "flags": ["SECCOMP_FILTER_FLAG_LOG"], "listenerPath": "/run/agent.sock", "listenerMetadata": "x",
        "syscalls": [{"names": ["read", "write"], "action": "SCMP_ACT_ALLOW"},
                     {"names": ["mkdir"], "action": "SCMP_ACT_NOTIFY"},
                     {"names": ["personality"], "action": "SCMP_ACT_ALLOW", "errnoRet": 0,
                      "args": [{"index": 0, "value": 0, "valueTwo": 0, "op": "SCMP_CMP_EQ"}]}],
    }
    linux["rootfsPropagation"] = "rslave"
    linux["mountLabel"] = ""
    linux["personality"] = {"domain": "LINUX", "flags": []}
    linux["netDevices"] = {"eth1": {"name": "eth0"}}
    assert conforms(doc, rs.Spec) == []
    validate_config(doc)


def test_state_model_matches_the_state_document() -> None:
    state = {"ociVersion": rs.OCI_VERSION, "id": "c1", "status": "running", "pid": 42, "bundle": "/b",
             "annotations": {"a": "b"}}
    assert conforms(state, rs.State) == []
    assert conforms({**state, "status": "paused"}, rs.State) == [".status: 'paused' not in "
                                                                  "('creating', 'created', 'running', 'stopped')"]
    assert conforms({"ociVersion": "1.2.0", "id": "c1", "status": "created"}, rs.State) == [".bundle: missing"]


def test_exec_process_json_conforms_and_validates() -> None:
    process = {"args": ["sh", "-c", "id"], "cwd": "/", "env": ["PATH=/bin"], "user": {"uid": 0, "gid": 0},
               "terminal": False, "capabilities": {"bounding": ["CAP_KILL"]}, "noNewPrivileges": True}
    assert conforms(process, rs.Process) == []
    validate_process(process)
