"""docker seccomp profiles -> OCI linux.seccomp, and pallet's own default profile."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from pallet.engine.security.capabilities import DEFAULT_CAPABILITIES
from pallet.engine.security.default_profile import default_profile
from pallet.engine.security.seccomp_profile import (
    default_seccomp,
    kernel_version,
    load_profile_file,
    profile_to_oci,
)
from pallet.errors import ConfigError
from pallet.runtime.seccomp import compile_filter

X86 = {"machine": "x86_64", "kernel": (6, 1)}


def names_of(seccomp: dict[str, Any], action: str = "SCMP_ACT_ALLOW") -> set[str]:
    return {n for r in seccomp["syscalls"] if r["action"] == action for n in r["names"]}


def test_kernel_version_parsing() -> None:
    assert kernel_version("6.18.44-fc-v595") == (6, 18, 44)
    assert kernel_version("5.4.0") == (5, 4, 0)
    assert kernel_version("4.9rc1") == (4, 9)


def test_includes_and_excludes_by_caps_arch_and_kernel() -> None:
    profile = {
        "defaultAction": "SCMP_ACT_ERRNO",
        "syscalls": [
            {"names": ["read"], "action": "SCMP_ACT_ALLOW"},
            {"names": ["mount"], "action": "SCMP_ACT_ALLOW", "includes": {"caps": ["CAP_SYS_ADMIN"]}},
            {"names": ["both"], "action": "SCMP_ACT_ALLOW", "includes": {"caps": ["CAP_SYS_ADMIN", "CAP_NET_ADMIN"]}},
            {"names": ["clone"], "action": "SCMP_ACT_ALLOW", "excludes": {"caps": ["CAP_SYS_ADMIN", "CAP_BPF"]}},
            {"names": ["arch_prctl"], "action": "SCMP_ACT_ALLOW", "includes": {"arches": ["amd64"]}},
            {"names": ["set_tls"], "action": "SCMP_ACT_ALLOW", "includes": {"arches": ["arm64"]}},
            {"names": ["notons390"], "action": "SCMP_ACT_ALLOW", "excludes": {"arches": ["s390x"]}},
            {"names": ["ptrace"], "action": "SCMP_ACT_ALLOW", "includes": {"minKernel": "4.8"}},
            {"names": ["future"], "action": "SCMP_ACT_ALLOW", "includes": {"minKernel": "9.0"}},
            {"names": ["old"], "action": "SCMP_ACT_ALLOW", "excludes": {"minKernel": "5.0"}},
        ],
    }
    plain = names_of(profile_to_oci(profile, ["CAP_CHOWN"], **X86))  # type: ignore[arg-type]
    assert plain == {"read", "clone", "arch_prctl", "notons390", "ptrace"}
    admin = names_of(profile_to_oci(profile, ["CAP_SYS_ADMIN"], machine="aarch64", kernel=(4, 9)))
    assert admin == {"read", "mount", "set_tls", "notons390", "ptrace", "old"}
    both = names_of(profile_to_oci(profile, ["CAP_SYS_ADMIN", "CAP_NET_ADMIN"], machine="s390x", kernel=(4, 4)))
    assert both == {"read", "mount", "both", "old"}


def test_arch_map_picks_the_native_architecture_and_its_sub_architectures() -> None:
    profile = {"defaultAction": "SCMP_ACT_ERRNO", "archMap": [
        {"architecture": "SCMP_ARCH_X86_64", "subArchitectures": ["SCMP_ARCH_X86", "SCMP_ARCH_X32"]},
        {"architecture": "SCMP_ARCH_AARCH64", "subArchitectures": ["SCMP_ARCH_ARM"]},
    ]}
    assert profile_to_oci(profile, [], **X86)["architectures"] == [  # type: ignore[arg-type]
        "SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"]
    assert profile_to_oci(profile, [], machine="aarch64")["architectures"] == ["SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"]


def test_fields_carried_over_and_legacy_name() -> None:
    profile = {"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 38, "flags": ["SECCOMP_FILTER_FLAG_LOG"],
               "listenerPath": "/run/a.sock", "listenerMetadata": "m",
               "syscalls": [{"name": "kill", "action": "SCMP_ACT_ERRNO", "errnoRet": 18, "comment": "x",
                             "args": [{"index": 1, "value": 9, "op": "SCMP_CMP_EQ"}]}]}
    out = profile_to_oci(profile, [], **X86)  # type: ignore[arg-type]
    assert out == {"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 38, "flags": ["SECCOMP_FILTER_FLAG_LOG"],
                   "listenerPath": "/run/a.sock", "listenerMetadata": "m",
                   "syscalls": [{"names": ["kill"], "action": "SCMP_ACT_ERRNO", "errnoRet": 18,
                                 "args": [{"index": 1, "value": 9, "valueTwo": 0, "op": "SCMP_CMP_EQ"}]}]}


@pytest.mark.parametrize(
    ("profile", "words"),
    [
        ({}, "defaultAction None is not a seccomp action"),
        ({"defaultAction": "SCMP_ACT_ERRNO", "architectures": ["SCMP_ARCH_X86_64"], "archMap": [{"architecture": "x"}]},
         "archMap are both set"),
        ({"defaultAction": "SCMP_ACT_ERRNO", "architectures": ["SCMP_ARCH_PDP11"]}, "architectures[0] 'SCMP_ARCH_PDP11'"),
        ({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"name": "a", "names": ["b"], "action": "SCMP_ACT_ALLOW"}]},
         "syscalls[0] has both name and names"),
        ({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read"], "action": "ALLOW"}]},
         "syscalls[0].action 'ALLOW' is not a seccomp action"),
        ({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["re-ad"], "action": "SCMP_ACT_ALLOW"}]},
         "syscalls[0].names[0] 're-ad' is not a syscall name"),
        ({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW",
                                                            "args": [{"index": 0, "op": "SCMP_CMP_ABOUT"}]}]},
         "syscalls[0].args[0].op 'SCMP_CMP_ABOUT'"),
        ({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW",
                                                            "includes": {"kernel": "4"}}]},
         "syscalls[0].includes.kernel is not a condition"),
        ({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW",
                                                            "includes": {"minKernel": "four"}}]},
         "syscalls[0].includes.minKernel 'four' is not a kernel version"),
    ],
)
def test_bad_profiles_name_the_source_and_field(profile: dict[str, Any], words: str) -> None:
    with pytest.raises(ConfigError) as info:
        profile_to_oci(profile, [], source="/etc/p.json", **X86)  # type: ignore[arg-type]
    assert str(info.value).startswith("seccomp profile /etc/p.json: ")
    assert words in str(info.value)


def test_profile_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"seccomp profile .*missing.json: cannot be read: No such file"):
        load_profile_file(str(tmp_path / "missing.json"))
    bad = tmp_path / "bad.json"
    bad.write_text("{\"defaultAction\": ")
    with pytest.raises(ConfigError, match=r"bad.json: not valid JSON"):
        load_profile_file(str(bad))
    (tmp_path / "list.json").write_text("[]")
    with pytest.raises(ConfigError, match=r"must be a JSON object"):
        load_profile_file(str(tmp_path / "list.json"))
    good = tmp_path / "good.json"
    good.write_text(json.dumps(default_profile()))
    assert load_profile_file(str(good)) == default_profile()


BLOCKED = {
    "mount", "umount2", "unshare", "setns", "keyctl", "add_key", "request_key", "bpf", "perf_event_open",
    "kexec_load", "kexec_file_load", "open_by_handle_at", "init_module", "finit_module", "delete_module", "reboot",
    "swapon", "swapoff", "clock_settime", "settimeofday", "acct", "pivot_root", "syslog", "userfaultfd",
    "io_uring_setup",
}


def test_default_profile_is_a_big_allowlist_without_the_dangerous_calls() -> None:
    profile = default_profile()
    every = {n for r in profile["syscalls"] for n in r["names"]}  # type: ignore[attr-defined]
    assert len(every) > 350
    seccomp = default_seccomp(DEFAULT_CAPABILITIES, **X86)  # type: ignore[arg-type]
    assert seccomp["defaultAction"] == "SCMP_ACT_ERRNO" and seccomp["defaultErrnoRet"] == 1
    assert seccomp["architectures"] == ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"]
    allowed = names_of(seccomp)
    assert len(allowed) > 300
    assert not allowed & BLOCKED, allowed & BLOCKED
    assert {"read", "write", "execve", "clone", "socket", "personality", "chroot", "ptrace"} <= allowed
    clone3 = [r for r in seccomp["syscalls"] if r["names"] == ["clone3"]]
    assert clone3 == [{"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38}]
    clone = [r for r in seccomp["syscalls"] if r["names"] == ["clone"]]
    assert clone[0]["args"] == [{"index": 0, "value": 0x7E020000, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"}]


def test_default_profile_opens_up_with_capabilities() -> None:
    admin = names_of(default_seccomp([*DEFAULT_CAPABILITIES, "CAP_SYS_ADMIN"], **X86))  # type: ignore[arg-type]
    assert {"mount", "umount2", "unshare", "setns", "clone3", "bpf"} <= admin
    assert "keyctl" not in admin and "reboot" not in admin
    assert "reboot" in names_of(default_seccomp(["CAP_SYS_BOOT"], **X86))  # type: ignore[arg-type]
    assert "clock_settime" in names_of(default_seccomp(["CAP_SYS_TIME"], **X86))  # type: ignore[arg-type]
    assert "open_by_handle_at" in names_of(default_seccomp(["CAP_DAC_READ_SEARCH"], **X86))  # type: ignore[arg-type]
    no_chroot = names_of(default_seccomp([c for c in DEFAULT_CAPABILITIES if c != "CAP_SYS_CHROOT"], **X86))  # type: ignore[arg-type]
    assert "chroot" not in no_chroot


def test_default_profile_compiles_without_warnings_on_this_host() -> None:
    warnings: list[str] = []
    compiled = compile_filter(default_seccomp(DEFAULT_CAPABILITIES), warn=warnings.append)
    assert compiled is not None and compiled.instructions > 300
    assert warnings == []


def test_default_profile_cache_gives_the_same_profile_and_is_read_back(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    caps = sorted(DEFAULT_CAPABILITIES)
    fresh = default_seccomp(caps)
    first = default_seccomp(caps, cache_dir=str(cache))
    assert first == fresh
    files = list(cache.iterdir())
    assert len(files) == 1 and files[0].name.startswith("seccomp-default-")
    # The file is what the next call returns: mark it and see the mark come back.
    doc = json.loads(files[0].read_text())
    doc["syscalls"] = doc["syscalls"][:1]
    files[0].write_text(json.dumps(doc))
    assert default_seccomp(list(reversed(caps)), cache_dir=str(cache)) == doc
    # Other capabilities are another profile (CAP_SYS_ADMIN opens mount, unshare...): another file.
    admin = default_seccomp([*caps, "CAP_SYS_ADMIN"], cache_dir=str(cache))
    assert admin == default_seccomp([*caps, "CAP_SYS_ADMIN"])
    assert admin != fresh and len(list(cache.iterdir())) == 2
    # A damaged file is resolved again and rewritten.
    files[0].write_text("{not json")
    assert default_seccomp(caps, cache_dir=str(cache)) == fresh
    assert json.loads(files[0].read_text()) == fresh
