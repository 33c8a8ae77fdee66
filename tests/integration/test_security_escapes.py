"""Escapes that must fail from inside a default container (issue 4's list), through pallet-runtime.

The container gets what the engine gives by default (docker's capabilities, the default seccomp
profile, masked and read-only paths, no-new-privileges); a small static program tries the system
calls that busybox has no applet for.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from tests.helpers.oci import Runtime, new_id
from tests.integration.test_security_container import results, secure

Bundle = Callable[..., Path]
SOURCE = Path(__file__).resolve().parents[1] / "helpers" / "c" / "tryescape.c"


@pytest.fixture(scope="session")
def tryescape(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if shutil.which("gcc") is None:
        pytest.skip("gcc is needed to build the escape helper")
    out = tmp_path_factory.mktemp("tryescape") / "tryescape"
    build = subprocess.run(["gcc", "-static", "-O", "-o", str(out), str(SOURCE)], capture_output=True, text=True)
    if build.returncode != 0:
        pytest.skip(f"cannot build a static helper here: {build.stderr.strip()[:200]}")
    return out


def _secure_bundle(bundle: Bundle, args: list[str], **kw: object) -> Path:
    return bundle(args, edit=lambda c: secure(c, **kw))  # type: ignore[arg-type]


def test_privileged_syscalls_fail(rt: Runtime, bundle: Bundle, rootfs: Path, tryescape: Path) -> None:
    shutil.copy2(tryescape, rootfs / "bin" / "tryescape")
    b = _secure_bundle(bundle, ["/bin/tryescape"])
    got = results(rt.run("run", "-b", str(b), new_id(), check=True).stdout)
    assert set(got) >= {"keyctl", "add_key", "reboot", "ptrace", "bpf", "perf_event_open", "userfaultfd",
                        "open_by_handle_at", "swapoff", "acct"}
    assert all(errno != "0" for errno in got.values()), got


def test_cgroup_release_agent_sysrq_and_userns_mount_fail(rt: Runtime, bundle: Bundle) -> None:
    script = (
        "echo /x > /sys/fs/cgroup/memory/release_agent; echo release_agent=$?; "
        "for f in /sys/fs/cgroup/*/release_agent; do echo /x > $f 2>/dev/null && echo wrote=$f; done; "
        "echo b > /proc/sysrq-trigger; echo sysrq=$?; "
        "echo 1 > /proc/sys/kernel/sysrq; echo sysctl=$?; "
        "unshare -U -m -r sh -c 'mount -t cgroup -o memory cg /mnt'; echo userns_cgroupfs=$?; "
        "mount -t tmpfs t /mnt; echo mount=$?"
    )
    b = _secure_bundle(bundle, ["sh", "-c", script])
    out = rt.run("run", "-b", str(b), new_id(), check=True)
    got = results(out.stdout)
    assert "wrote" not in got, out.stdout
    for key in ("release_agent", "sysrq", "sysctl", "userns_cgroupfs", "mount"):
        assert got[key] != "0", (key, out.stdout, out.stderr)


def test_no_inheritable_or_ambient_caps_and_only_stdio_in_run_and_exec(rt: Runtime, bundle: Bundle) -> None:
    b = _secure_bundle(bundle, ["sleep", "30"])
    cid = new_id()
    assert rt.run_detached("run", "-d", "-b", str(b), cid).returncode == 0
    pid = rt.state(cid)["pid"]
    try:
        # the container's process (PID 1) and an exec'd one
        script = ("grep -E '^Cap(Inh|Amb)' /proc/1/status /proc/self/status | cut -d: -f2- | tr -d '\\t'; "
                  "echo fds1 $(ls /proc/1/fd)")
        out = rt.run("exec", cid, "sh", "-c", script, check=True).stdout.split("\n")
        assert out[:4] == ["CapInh:0000000000000000", "CapAmb:0000000000000000"] * 2
        assert out[4].split() == ["fds1", "0", "1", "2"]
    finally:
        rt.run("kill", cid, "KILL")
        _reap(pid)
        rt.run("delete", "--force", cid, check=True)


def test_exec_cwd_through_any_fd_stays_inside(rt: Runtime, bundle: Bundle) -> None:
    b = _secure_bundle(bundle, ["sleep", "30"])
    cid = new_id()
    assert rt.run_detached("run", "-d", "-b", str(b), cid).returncode == 0
    try:
        for n in range(3, 65):
            out = rt.run("exec", "--cwd", f"/proc/self/fd/{n}", cid, "pwd")
            assert out.returncode != 0 or out.stdout.strip() == "/" or not out.stdout.startswith("/proc"), (n, out)
            assert out.returncode != 0 or not out.stdout.strip().startswith(".."), (n, out)
    finally:
        pid = rt.state(cid)["pid"]
        rt.run("kill", cid, "KILL")
        _reap(pid)
        rt.run("delete", "--force", cid, check=True)


def _reap(pid: int) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            done, _ = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            return
        if done:
            return
        time.sleep(0.02)


def test_the_runtime_is_not_dumpable_inside_the_container(rt: Runtime, bundle: Bundle) -> None:
    # While the init is the runtime (created, before start) it is not dumpable: its /proc entries
    # belong to root even though it already runs as the container's user. After exec they are the user's.
    def edit(c: dict) -> None:
        secure(c, uid=1000)

    b = bundle(["sleep", "30"], edit=edit)
    cid = new_id()
    assert rt.run_detached("create", "--bundle", str(b), cid).returncode == 0
    try:
        pid = rt.state(cid)["pid"]
        with open(f"/proc/{pid}/status") as f:
            uids = next(line for line in f if line.startswith("Uid:")).split()[1:]
        assert uids[0] == "1000"
        assert os.stat(f"/proc/{pid}/fd").st_uid == 0
        rt.run("start", cid, check=True)
        deadline = time.monotonic() + 10
        while os.stat(f"/proc/{pid}/fd").st_uid != 1000 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert os.stat(f"/proc/{pid}/fd").st_uid == 1000
    finally:
        rt.run("delete", "--force", cid)
