"""Engine security: --security-opt, the security part of a config, masked paths, subuid/subgid, LSM."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pallet.engine.security import subids
from pallet.engine.security.default_profile import default_profile
from pallet.engine.security.options import parse_security_opts, security_config
from pallet.engine.security.paths import MASKED_PATHS, READONLY_PATHS, default_paths
from pallet.errors import ConfigError, UnsupportedError, ValidationError
from pallet.runtime import lsm


def test_security_opts() -> None:
    opts = parse_security_opts(["no-new-privileges", "seccomp=unconfined", "apparmor=docker-default",
                                "label=type:spc_t", "label=level:s0:c1,c2", "systempaths=unconfined"])
    assert opts.no_new_privileges and opts.seccomp == "unconfined" and opts.apparmor == "docker-default"
    assert opts.labels == {"type": "spc_t", "level": "s0:c1,c2"} and opts.systempaths_unconfined
    assert not parse_security_opts(["no-new-privileges:false"]).no_new_privileges
    assert parse_security_opts(["no-new-privileges=true"]).no_new_privileges
    assert parse_security_opts(["seccomp:/p.json"]).seccomp == "/p.json"


@pytest.mark.parametrize(
    ("opt", "words"),
    [
        ("no-new-privileges=maybe", "no-new-privileges takes true or false"),
        ("seccomp=", "seccomp takes a profile file"),
        ("label=colour:red", "label takes disable or"),
        ("systempaths=open", "systempaths takes only"),
        ("turbo=1", "invalid --security-opt 'turbo=1'"),
    ],
)
def test_bad_security_opts(opt: str, words: str) -> None:
    with pytest.raises(ConfigError, match=words):
        parse_security_opts([opt])


def test_default_security_config() -> None:
    warnings: list[str] = []
    cfg = security_config(parse_security_opts([]), warnings=warnings)
    assert len(cfg["process"]["capabilities"]["bounding"]) == 14  # type: ignore[index]
    assert cfg["process"]["noNewPrivileges"] is False
    assert cfg["linux"]["maskedPaths"] == list(MASKED_PATHS)
    assert cfg["linux"]["readonlyPaths"] == list(READONLY_PATHS)
    seccomp = cfg["linux"]["seccomp"]
    assert isinstance(seccomp, dict) and seccomp["defaultAction"] == "SCMP_ACT_ERRNO"
    assert warnings == []


def test_privileged_and_unconfined() -> None:
    cfg = security_config(parse_security_opts([]), privileged=True)
    assert "seccomp" not in cfg["linux"] and cfg["linux"]["maskedPaths"] == []
    assert len(cfg["process"]["capabilities"]["bounding"]) > 30  # type: ignore[index]
    cfg = security_config(parse_security_opts(["seccomp=unconfined", "no-new-privileges"]))
    assert "seccomp" not in cfg["linux"] and cfg["process"]["noNewPrivileges"] is True
    assert default_paths(unconfined=True) == {"maskedPaths": [], "readonlyPaths": []}


def test_profile_file_and_its_errors(tmp_path: Path) -> None:
    profile = tmp_path / "p.json"
    profile.write_text(json.dumps({"defaultAction": "SCMP_ACT_ALLOW",
                                   "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_ERRNO"}]}))
    cfg = security_config(parse_security_opts([f"seccomp={profile}"]))
    assert cfg["linux"]["seccomp"] == {"defaultAction": "SCMP_ACT_ALLOW",
                                       "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_ERRNO"}]}
    with pytest.raises(ConfigError, match=r"nope.json: cannot be read"):
        security_config(parse_security_opts([f"seccomp={tmp_path / 'nope.json'}"]))
    profile.write_text(json.dumps(default_profile())[:-5])
    with pytest.raises(ConfigError, match=r"p.json: not valid JSON"):
        security_config(parse_security_opts([f"seccomp={profile}"]))


def test_labels_are_dropped_with_a_warning_when_the_lsm_is_off(tmp_path: Path) -> None:
    warnings: list[str] = []
    cfg = security_config(parse_security_opts(["apparmor=docker-default", "label=type:spc_t"]),
                          warnings=warnings, sysfs=str(tmp_path))
    assert "apparmorProfile" not in cfg["process"] and "selinuxLabel" not in cfg["process"]
    assert len(warnings) == 2 and "AppArmor is not enabled" in warnings[0]


def test_labels_are_set_when_the_lsm_is_on(tmp_path: Path) -> None:
    (tmp_path / "module/apparmor/parameters").mkdir(parents=True)
    (tmp_path / "module/apparmor/parameters/enabled").write_text("Y\n")
    (tmp_path / "fs/selinux").mkdir(parents=True)
    (tmp_path / "fs/selinux/enforce").write_text("1")
    cfg = security_config(parse_security_opts(["apparmor=prof", "label=type:spc_t", "label=level:s0:c1,c2"]),
                          sysfs=str(tmp_path))
    assert cfg["process"]["apparmorProfile"] == "prof"
    assert cfg["process"]["selinuxLabel"] == "system_u:system_r:spc_t:s0:c1,c2"
    assert cfg["linux"]["mountLabel"] == "system_u:object_r:container_file_t:s0:c1,c2"
    assert lsm.mount_label_option(cfg["linux"], sysfs=str(tmp_path)) == 'context="system_u:object_r:container_file_t:s0:c1,c2"'
    lsm.check_labels(cfg["process"], cfg["linux"], sysfs=str(tmp_path))


def test_runtime_refuses_labels_it_cannot_apply(tmp_path: Path) -> None:
    with pytest.raises(UnsupportedError, match=r"process.apparmorProfile 'docker-default' is set, but AppArmor is not enabled"):
        lsm.check_labels({"apparmorProfile": "docker-default"}, {}, sysfs=str(tmp_path))
    with pytest.raises(UnsupportedError, match=r"linux.mountLabel 'a:b:c' is set, but SELinux is not enabled"):
        lsm.check_labels({}, {"mountLabel": "a:b:c"}, sysfs=str(tmp_path))
    lsm.check_labels({}, {}, sysfs=str(tmp_path))
    assert lsm.mount_label_option({"mountLabel": "a:b:c"}, sysfs=str(tmp_path)) is None
    (tmp_path / "fs/selinux").mkdir(parents=True)
    (tmp_path / "fs/selinux/enforce").write_text("1")
    with pytest.raises(ValidationError, match=r"process.selinuxLabel 'nonsense' is not an SELinux context"):
        lsm.check_labels({"selinuxLabel": "nonsense"}, {}, sysfs=str(tmp_path))


def test_this_host_has_neither_lsm_enabled_as_measured() -> None:
    # The field notes: these machines run neither AppArmor nor SELinux.
    assert not lsm.apparmor_enabled() and not lsm.selinux_enabled()


def test_exec_labels_go_to_the_thread_attr_files(tmp_path: Path) -> None:
    attr = tmp_path / "thread-self/attr"
    (attr / "apparmor").mkdir(parents=True)
    (attr / "apparmor/exec").write_text("")
    (attr / "exec").write_text("")
    lsm.apply_exec_labels({"apparmorProfile": "prof", "selinuxLabel": "u:r:t:s0"}, proc=str(tmp_path))
    assert (attr / "apparmor/exec").read_text() == "exec prof"
    assert (attr / "exec").read_text() == "u:r:t:s0"
    lsm.apply_exec_labels({}, proc="/nonexistent")  # nothing asked, nothing touched


def test_subid_parsing_and_remap(tmp_path: Path) -> None:
    subuid, subgid = tmp_path / "subuid", tmp_path / "subgid"
    subuid.write_text("# comment\n\n4242:100000:65536\n4242:300000:1000\nother:200000:65536\n")
    subgid.write_text("4242:100000:65536\n")
    uids, gids = subids.remap("4242", str(subuid), str(subgid))
    assert uids == [{"containerID": 0, "hostID": 100000, "size": 65536},
                    {"containerID": 65536, "hostID": 300000, "size": 1000}]
    assert gids == [{"containerID": 0, "hostID": 100000, "size": 65536}]
    table = subids.read_subid_file(str(subuid))
    subids.check_within(uids, subids.ranges_for("4242", table), str(subuid))


def test_subid_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"f:2: 'bob:x:1' is not 'user:start:count'"):
        subids.parse_subid_text("bob:1:1\nbob:x:1\n", "f")
    with pytest.raises(ConfigError, match=r"f:1: range 5:0 is empty"):
        subids.parse_subid_text("bob:5:0\n", "f")
    table = subids.parse_subid_text("bob:100000:65536\nbob:150000:10\n", "f")
    with pytest.raises(ConfigError, match=r"subordinate ranges of 'bob' overlap"):
        subids.ranges_for("bob", table)
    ranges = [(100000, 65536)]
    with pytest.raises(ConfigError, match=r"host ids 160000-170239 outside the ranges /etc/subuid allows \(100000-165535\)"):
        subids.check_within([{"containerID": 0, "hostID": 160000, "size": 10240}], ranges, "/etc/subuid")
    with pytest.raises(ConfigError, match=r"mapping 1 .* overlaps mapping 0 .* on containerID"):
        subids.check_within([{"containerID": 0, "hostID": 100000, "size": 10},
                             {"containerID": 5, "hostID": 100020, "size": 10}], ranges, "/etc/subuid")
    empty = tmp_path / "empty"
    empty.write_text("")
    with pytest.raises(ConfigError, match=r"has no range for '4243' \(add a line like '4243:100000:65536'\)"):
        subids.remap("4243", str(empty), str(empty))
    rootish = tmp_path / "rootish"
    rootish.write_text("4243:0:65536\n")
    with pytest.raises(ConfigError, match=r"includes host id 0"):
        subids.remap("4243", str(rootish), str(rootish))


def test_runtime_mapping_checks() -> None:
    from pallet.runtime.idmap import check_mappings, format_mappings, mapper

    good = check_mappings([{"containerID": 0, "hostID": 100000, "size": 10}], "linux.uidMappings")
    assert format_mappings(good) == "0 100000 10\n"
    assert mapper(good)(3) == 100003
    with pytest.raises(ValidationError, match=r"linux.uidMappings\[1\] containerID range .* overlaps"):
        check_mappings([{"containerID": 0, "hostID": 100000, "size": 10},
                        {"containerID": 9, "hostID": 200000, "size": 10}], "linux.uidMappings")
    with pytest.raises(ValidationError, match=r"linux.gidMappings\[0\].size -1 is not an id"):
        check_mappings([{"containerID": 0, "hostID": 1, "size": -1}], "linux.gidMappings")
