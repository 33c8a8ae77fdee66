"""Security of `pallet run`, seen from inside the container: capabilities, seccomp, masked paths, options."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.helpers.cli import Pallet

DOCKER_CAPS = "00000000a80425fb"


def status(pallet: Pallet, *flags: str) -> dict[str, str]:
    out = pallet.out("run", "--rm", *flags, "busybox", "cat", "/proc/self/status")
    return {k: v.strip() for k, _, v in (line.partition(":") for line in out.splitlines())}


def host_bounding() -> str:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("CapBnd:"):
            return line.split()[1]
    raise AssertionError("no CapBnd in /proc/self/status")


def test_docker_defaults(pallet: Pallet) -> None:
    out = pallet.out("run", "--rm", "busybox", "grep", "Cap", "/proc/self/status")
    caps = dict(line.split(":\t") for line in out.splitlines())
    assert caps["CapEff"] == caps["CapPrm"] == caps["CapBnd"] == DOCKER_CAPS
    assert caps["CapInh"] == caps["CapAmb"] == "0000000000000000"
    st = status(pallet)
    assert st["Seccomp"] == "2" and st["NoNewPrivs"] == "0"
    # The default profile refuses what the 14 capabilities would not stop (keyctl, unshare -U).
    proc = pallet("run", "--rm", "busybox", "unshare", "-U", "true", check=False)
    assert proc.returncode != 0 and "not permitted" in proc.stderr.lower()
    assert pallet("run", "--rm", "--security-opt", "seccomp=unconfined", "busybox", "unshare", "-U", "true").returncode == 0
    # Masked and read-only kernel files.
    assert pallet.out("run", "--rm", "busybox", "wc", "-c", "/proc/timer_list").split()[0] == "0"
    proc = pallet("run", "--rm", "busybox", "sh", "-c", "echo 1 > /proc/sys/kernel/ns_last_pid", check=False)
    assert proc.returncode != 0 and "read-only" in proc.stderr.lower()


def test_cap_drop_and_add_have_effect(pallet: Pallet) -> None:
    assert status(pallet, "--cap-drop", "ALL")["CapEff"] == "0000000000000000"
    assert status(pallet, "--cap-drop", "ALL", "--cap-add", "chown")["CapEff"] == "0000000000000001"
    chown = ["busybox", "sh", "-c", "touch /f && chown 1:1 /f"]
    assert pallet("run", "--rm", *chown).returncode == 0
    proc = pallet("run", "--rm", "--cap-drop", "CHOWN", *chown, check=False)
    assert proc.returncode != 0 and "not permitted" in proc.stderr.lower()
    # hostname needs CAP_SYS_ADMIN (and the profile lets sethostname through only with it).
    assert pallet("run", "--rm", "busybox", "hostname", "x", check=False).returncode != 0
    assert pallet("run", "--rm", "--cap-add", "SYS_ADMIN", "busybox", "hostname", "x").returncode == 0
    # A non-root user gets no effective capabilities.
    assert status(pallet, "--user", "1000")["CapEff"] == "0000000000000000"


def test_privileged(pallet: Pallet) -> None:
    st = status(pallet, "--privileged")
    assert st["CapEff"] == st["CapBnd"] == host_bounding()
    assert st["Seccomp"] == "0"
    assert int(pallet.out("run", "--rm", "--privileged", "busybox", "wc", "-c", "/proc/timer_list").split()[0]) > 0


def test_security_opts(pallet: Pallet, tmp_path: Path) -> None:
    assert status(pallet, "--security-opt", "no-new-privileges")["NoNewPrivs"] == "1"
    assert int(pallet.out("run", "--rm", "--security-opt", "systempaths=unconfined", "busybox",
                          "wc", "-c", "/proc/timer_list").split()[0]) > 0
    # A docker profile file: allow everything but mkdir.
    profile = tmp_path / "no-mkdir.json"
    profile.write_text(json.dumps({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
        {"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}]}))
    proc = pallet("run", "--rm", "--security-opt", f"seccomp={profile}", "busybox", "sh", "-c",
                  "touch /ok && mkdir /nope", check=False)
    assert proc.returncode == 1 and "not permitted" in proc.stderr.lower()
    # AppArmor is not on this host: docker warns and goes on.
    proc = pallet("run", "--rm", "--security-opt", "apparmor=my-profile", "busybox", "true", check=False)
    assert proc.returncode == 0, proc.stderr
    assert "WARNING" in proc.stderr and "apparmor=my-profile" in proc.stderr


@pytest.mark.parametrize(("flags", "named"), [
    (["--security-opt", "seccomp=/no/such/profile.json"], "/no/such/profile.json"),
    (["--cap-add", "NOT_A_CAP"], "NOT_A_CAP"),
    (["--cap-drop", "sys_bogus"], "sys_bogus"),
    (["--security-opt", "seccomp"], "seccomp"),
    (["--security-opt", "bogus=1"], "bogus=1"),
])
def test_bad_security_input_exits_125_naming_it(pallet: Pallet, flags: list[str], named: str) -> None:
    proc = pallet("run", "--rm", *flags, "busybox", "true", check=False)
    assert proc.returncode == 125, proc.stderr
    assert named in proc.stderr
    assert pallet.out("ps", "-aq") == ""


def test_bad_seccomp_file_content(pallet: Pallet, tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    proc = pallet("run", "--rm", "--security-opt", f"seccomp={bad}", "busybox", "true", check=False)
    assert proc.returncode == 125 and str(bad) in proc.stderr
    bad.write_text(json.dumps({"defaultAction": "SCMP_ACT_NOPE"}))
    proc = pallet("run", "--rm", "--security-opt", f"seccomp={bad}", "busybox", "true", check=False)
    assert proc.returncode == 125 and str(bad) in proc.stderr and "SCMP_ACT_NOPE" in proc.stderr
    assert pallet.out("ps", "-aq") == ""
