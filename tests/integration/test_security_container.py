"""Security end to end: busybox containers run by pallet-runtime with configs the engine's security
code writes (docker's 14 capabilities, the default seccomp profile, masked and read-only paths,
no-new-privileges), checked from inside the container."""

from __future__ import annotations

import errno
import json
import os
import select
import socket
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from tests.helpers.oci import (
    USERNS_MAP,
    Runtime,
    in_user_namespace,
    is_pallet,
    make_config,
    new_id,
    says,
    write_bundle,
)
from tests.helpers.rootfs import copy_rootfs

from pallet._linux.caps import CAP_NUMBERS
from pallet.engine.security.capabilities import DEFAULT_CAPABILITIES
from pallet.engine.security.options import parse_security_opts, security_config

Bundle = Callable[..., Path]
Config = dict[str, Any]

DOCKER_DEFAULT_MASK = 0xA80425FB
STATUS_KEYS = ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb", "NoNewPrivs", "Seccomp")
SHOW_STATUS = "grep -E '^(Cap(Inh|Prm|Eff|Bnd|Amb)|NoNewPrivs|Seccomp):' /proc/self/status"


def mask(*names: str) -> int:
    return sum(1 << CAP_NUMBERS["CAP_" + n.removeprefix("CAP_")] for n in names)


def secure(config: Config, *, opts: tuple[str, ...] = ("no-new-privileges",), uid: int = 0,
           cap_add: tuple[str, ...] = (), cap_drop: tuple[str, ...] = (), privileged: bool = False) -> list[str]:
    """Put into ``config`` what the engine's security code writes for these docker options."""
    warnings: list[str] = []
    sec = security_config(parse_security_opts(opts), privileged=privileged, cap_add=cap_add, cap_drop=cap_drop,
                          uid=uid, warnings=warnings)
    config["process"].pop("noNewPrivileges", None)
    config["linux"].pop("seccomp", None)
    config["process"].update(sec["process"])
    config["linux"].update(sec["linux"])
    if uid:
        config["process"]["user"] = {"uid": uid, "gid": uid}
    return warnings


def status(stdout: str) -> dict[str, int]:
    out = {}
    for line in stdout.splitlines():
        key, sep, value = line.partition(":")
        if sep and key in STATUS_KEYS:
            out[key] = int(value.strip(), 16)
    return out


def run(rt: Runtime, bundle: Bundle, script: str, **security: Any) -> subprocess.CompletedProcess[str]:
    def edit(c: Config) -> None:
        secure(c, **security)

    return rt.run("run", "-b", str(bundle(["sh", "-c", script], edit=edit)), new_id())


def results(stdout: str) -> dict[str, str]:
    """``name=value`` lines of a script's output."""
    return dict(line.split("=", 1) for line in stdout.splitlines() if "=" in line and not line.startswith(" "))


def assert_nothing_left(rt: Runtime) -> None:
    assert rt.run("list", "-q").stdout.strip() == ""


# --- capabilities -------------------------------------------------------------------------------


def test_default_mask_is_dockers_14_capabilities() -> None:
    assert mask(*DEFAULT_CAPABILITIES) == DOCKER_DEFAULT_MASK


def test_root_gets_dockers_default_set_no_new_privs_and_a_filter(rt: Runtime, bundle: Bundle) -> None:
    out = run(rt, bundle, SHOW_STATUS)
    assert out.returncode == 0, out.stderr
    assert status(out.stdout) == {
        "CapInh": 0, "CapPrm": DOCKER_DEFAULT_MASK, "CapEff": DOCKER_DEFAULT_MASK, "CapBnd": DOCKER_DEFAULT_MASK,
        "CapAmb": 0, "NoNewPrivs": 1, "Seccomp": 2,
    }


def test_non_root_user_has_no_effective_capabilities(rt: Runtime, bundle: Bundle) -> None:
    out = run(rt, bundle, SHOW_STATUS + "; chown 1000 /tmp; echo chown=$?", uid=1000)
    assert out.returncode == 0, out.stderr
    assert status(out.stdout) == {
        "CapInh": 0, "CapPrm": 0, "CapEff": 0, "CapBnd": DOCKER_DEFAULT_MASK, "CapAmb": 0, "NoNewPrivs": 1,
        "Seccomp": 2,
    }
    assert results(out.stdout)["chown"] != "0"


def test_cap_drop_all_then_add_one(rt: Runtime, bundle: Bundle) -> None:
    script = SHOW_STATUS + "; chown 1:1 /tmp; echo chown=$?; mknod /tmp/n c 1 3; echo mknod=$?"
    out = run(rt, bundle, script, cap_drop=("ALL",), cap_add=("chown",))
    assert out.returncode == 0, out.stderr
    one = mask("CHOWN")
    assert status(out.stdout) == {
        "CapInh": 0, "CapPrm": one, "CapEff": one, "CapBnd": one, "CapAmb": 0, "NoNewPrivs": 1, "Seccomp": 2,
    }
    got = results(out.stdout)
    assert got["chown"] == "0"
    assert got["mknod"] != "0"  # CAP_MKNOD, one of docker's defaults, is gone


# (capability, a command that needs it, what the command says when the capability is missing)
GATES = {
    "CHOWN": ("chown 1:1 /tmp", "Operation not permitted"),
    "SYS_NICE": ("renice -n -5 -p $$", "Permission denied"),
    "SYS_ADMIN": ("hostname changed && hostname", "Operation not permitted"),
    # lo is down in a new network namespace: NET_ADMIN (given in both runs) brings it up.
    "NET_RAW": ("ip link set lo up && ping -c 1 -W 2 127.0.0.1", "permission denied"),
}


@pytest.mark.parametrize("cap", sorted(GATES))
def test_a_capability_gates_its_operation(rt: Runtime, bundle: Bundle, cap: str) -> None:
    command, refusal = GATES[cap]
    script = f"{command}; echo rc=$?"
    base = ("NET_ADMIN",) if cap == "NET_RAW" else ()
    extra = () if "CAP_" + cap in DEFAULT_CAPABILITIES else (cap,)
    allowed = run(rt, bundle, script, cap_add=base + extra)
    denied = run(rt, bundle, script, cap_add=base, cap_drop=(cap,))
    assert allowed.returncode == 0 and denied.returncode == 0, allowed.stderr + denied.stderr
    assert results(allowed.stdout)["rc"] == "0", allowed.stderr
    assert results(denied.stdout)["rc"] != "0"
    assert refusal in denied.stderr


def test_privileged_and_cap_add_all_get_what_the_runtime_has(rt: Runtime, bundle: Bundle) -> None:
    # Root on this host may lack capabilities (CAP_SYS_RESOURCE here): "all" is the kernel's
    # capabilities within the runtime's own bounding set, never a set capset would refuse.
    from pallet._linux.caps import last_cap

    with open("/proc/self/status") as f:
        own = next(int(line.split()[1], 16) for line in f if line.startswith("CapBnd:"))
    every = own & ((1 << (last_cap() + 1)) - 1)
    script = SHOW_STATUS + "; wc -c < /proc/timer_list"
    privileged = run(rt, bundle, script, privileged=True)
    assert privileged.returncode == 0, privileged.stderr
    assert status(privileged.stdout) == {
        "CapInh": 0, "CapPrm": every, "CapEff": every, "CapBnd": every, "CapAmb": 0, "NoNewPrivs": 1, "Seccomp": 0,
    }
    assert int(privileged.stdout.split()[-1]) > 0  # no masked paths either
    add_all = run(rt, bundle, SHOW_STATUS, cap_add=("ALL",), cap_drop=("SYS_ADMIN",))
    assert add_all.returncode == 0, add_all.stderr
    got = status(add_all.stdout)
    assert got["CapEff"] == every & ~mask("SYS_ADMIN") and got["Seccomp"] == 2


def test_ambient_capability_reaches_a_non_root_program(rt: Runtime, bundle: Bundle) -> None:
    # Not something the engine writes, but the runtime must honour it: a uid 1000 process keeps
    # CAP_NET_BIND_SERVICE across execve through the ambient set and can listen on port 80.
    def edit(c: Config) -> None:
        secure(c, uid=1000)
        c["process"]["capabilities"] = {k: ["CAP_NET_BIND_SERVICE"] for k in
                                        ("bounding", "effective", "permitted", "inheritable", "ambient")}

    script = SHOW_STATUS + "; nc -l -p 80 & sleep 0.2; netstat -ltn | grep -c ':80 '; kill $!"
    out = rt.run("run", "-b", str(bundle(["sh", "-c", script], edit=edit)), new_id())
    assert out.returncode == 0, out.stderr
    bit = mask("NET_BIND_SERVICE")
    assert status(out.stdout) == {
        "CapInh": bit, "CapPrm": bit, "CapEff": bit, "CapBnd": bit, "CapAmb": bit, "NoNewPrivs": 1, "Seccomp": 2,
    }
    assert out.stdout.split()[-1] == "1"


# --- seccomp ------------------------------------------------------------------------------------


def test_default_profile_blocks_namespaces_and_mount(rt: Runtime, bundle: Bundle) -> None:
    script = ("unshare -m true; echo unshare_mnt=$?; unshare -U true; echo unshare_user=$?; "
              "mount -t tmpfs t /mnt; echo mount=$?; hostname x; echo hostname=$?")
    confined = run(rt, bundle, script)
    assert confined.returncode == 0, confined.stderr
    assert results(confined.stdout) == {"unshare_mnt": "1", "unshare_user": "1", "mount": "1", "hostname": "1"}
    assert "unshare(0x20000): Operation not permitted" in confined.stderr
    assert "unshare(0x10000000): Operation not permitted" in confined.stderr
    # A user namespace needs no capability: without the filter the same call succeeds, so the
    # refusal above is the profile's.
    unconfined = run(rt, bundle, script, opts=("no-new-privileges", "seccomp=unconfined"))
    assert results(unconfined.stdout)["unshare_user"] == "0", unconfined.stderr


def test_escapes_from_a_default_container_fail(rt: Runtime, bundle: Bundle) -> None:
    script = (
        "date -s '2001-02-03 04:05:06' >/dev/null; echo year=$(date +%Y); "
        "insmod /bin/busybox; echo insmod=$?; "
        "dmesg >/dev/null; echo dmesg=$?; "
        "mknod /tmp/blk b 8 0 && head -c 1 /tmp/blk >/dev/null; echo blockdev=$?; "
        "mount -t cgroup -o none,name=escape cg /mnt; echo cgroupfs=$?; "
        "nsenter -t 1 -m true; echo setns=$?; "
        "echo pids=$(ls /proc | grep -c '^[0-9]') init=$(cat /proc/1/comm)"
    )
    out = run(rt, bundle, script)
    assert out.returncode == 0, out.stderr
    got = results(out.stdout)
    assert got.pop("year") != "2001"
    assert "can't set date: Operation not permitted" in out.stderr
    pids = got.pop("pids").split()
    assert all(v != "0" for v in got.values()), got
    assert "klogctl: Operation not permitted" in out.stderr
    assert "/tmp/blk: Operation not permitted" in out.stderr  # the device cgroup refuses the open
    # only the script's own few processes, with the script as PID 1: none of the host's
    assert int(pids[0]) <= 5 and pids[1] == "init=sh", pids


def test_no_new_privileges_off_still_loads_the_filter(rt: Runtime, bundle: Bundle) -> None:
    # docker's default: a seccomp profile without no-new-privileges.  Loading a filter then needs
    # CAP_SYS_ADMIN, which docker's 14 capabilities do not include: runc loads it before the
    # capabilities are dropped.
    out = run(rt, bundle, SHOW_STATUS + "; unshare -U true; echo unshare=$?", opts=())
    assert out.returncode == 0, out.stderr
    got = status(out.stdout)
    assert got["NoNewPrivs"] == 0 and got["Seccomp"] == 2 and got["CapEff"] == DOCKER_DEFAULT_MASK
    assert results(out.stdout)["unshare"] == "1"


def test_no_new_privileges_off_for_a_non_root_user(rt: Runtime, bundle: Bundle) -> None:
    out = run(rt, bundle, SHOW_STATUS, opts=(), uid=1000)
    assert out.returncode == 0, out.stderr
    got = status(out.stdout)
    assert got["NoNewPrivs"] == 0 and got["Seccomp"] == 2 and got["CapEff"] == 0


def _profile(tmp_path: Path, profile: dict[str, Any]) -> str:
    path = tmp_path / f"{new_id('profile')}.json"
    path.write_text(json.dumps(profile))
    return str(path)


def test_a_docker_profile_file_denies_mkdir_and_compares_arguments(rt: Runtime, bundle: Bundle,
                                                                     tmp_path: Path) -> None:
    profile = _profile(tmp_path, {
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [
            {"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO"},
            # chmod to 0777 refused with EACCES, any other mode allowed
            {"names": ["chmod"], "action": "SCMP_ACT_ERRNO", "errnoRet": errno.EACCES,
             "args": [{"index": 1, "value": 0o777, "op": "SCMP_CMP_EQ"}]},
            {"names": ["fchmodat", "fchmodat2"], "action": "SCMP_ACT_ERRNO", "errnoRet": errno.EACCES,
             "args": [{"index": 2, "value": 0o777, "op": "SCMP_CMP_EQ"}]},
        ],
    })
    script = ("mkdir /made; echo mkdir=$?; touch /f; chmod 755 /f; echo chmod755=$?; chmod 777 /f; echo chmod777=$?; "
              "stat -c mode=%a /f")
    out = run(rt, bundle, script, opts=("no-new-privileges", f"seccomp={profile}"))
    assert out.returncode == 0, out.stderr
    assert results(out.stdout) == {"mkdir": "1", "chmod755": "0", "chmod777": "1", "mode": "755"}
    assert "Operation not permitted" in out.stderr and "Permission denied" in out.stderr


def test_a_kill_action_kills_the_process(rt: Runtime, bundle: Bundle, tmp_path: Path) -> None:
    profile = _profile(tmp_path, {"defaultAction": "SCMP_ACT_ALLOW",
                                  "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_KILL_PROCESS"}]})
    out = run(rt, bundle, "exec mkdir /made", opts=("no-new-privileges", f"seccomp={profile}"))
    assert out.returncode == 128 + 31  # SIGSYS
    assert_nothing_left(rt)


def test_an_unknown_syscall_name_is_skipped_with_a_warning(rt: Runtime, bundle: Bundle) -> None:
    def edit(c: Config) -> None:
        c["linux"]["seccomp"] = {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
            {"names": ["mkdir", "mkdirat", "no_such_syscall"], "action": "SCMP_ACT_ERRNO"}]}

    out = rt.run("run", "-b", str(bundle(["sh", "-c", "mkdir /made; echo mkdir=$?"], edit=edit)), new_id())
    assert out.returncode == 0, out.stderr
    assert results(out.stdout) == {"mkdir": "1"}
    assert says(out.stderr, "no_such_syscall", "skipped"), out.stderr


@pytest.mark.parametrize(("change", "field"), [
    ({"defaultAction": "SCMP_ACT_FLY"}, "linux.seccomp.defaultAction"),
    ({"syscalls": [{"names": ["mkdir;"], "action": "SCMP_ACT_ERRNO"}]}, "linux.seccomp.syscalls[0].names[0]"),
    ({"syscalls": [{"names": ["kill"], "action": "SCMP_ACT_ERRNO",
                    "args": [{"index": 1, "value": 9, "op": "SCMP_CMP_ABOUT"}]}]}, "linux.seccomp.syscalls[0].args[0].op"),
    ({"architectures": ["SCMP_ARCH_Z80"]}, "linux.seccomp.architectures[0]"),
    ({"syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_NOTIFY"}]}, "linux.seccomp.listenerPath"),
], ids=["action", "name", "operator", "arch", "notify-without-listener"])
def test_bad_seccomp_input_is_refused_naming_the_field(rt: Runtime, bundle: Bundle, change: Config,
                                                       field: str) -> None:
    if not is_pallet() and field.endswith(".names[0]"):
        pytest.skip("runc skips a syscall name it does not know, as it does an unknown one")

    def edit(c: Config) -> None:
        c["linux"]["seccomp"] = {"defaultAction": "SCMP_ACT_ALLOW", **change}

    out = rt.run("run", "-b", str(bundle(["true"], edit=edit)), new_id())
    assert out.returncode != 0
    assert says(out.stderr, field), out.stderr
    assert_nothing_left(rt)


def test_notify_hands_the_listener_fd_to_an_agent(rt: Runtime, bundle: Bundle, tmp_path: Path) -> None:
    from pallet._linux import seccomp as lib

    agent_path = str(tmp_path / "agent.sock")
    profile = _profile(tmp_path, {
        "defaultAction": "SCMP_ACT_ALLOW", "listenerPath": agent_path, "listenerMetadata": "from-the-test",
        "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_NOTIFY"}],
    })

    def edit(c: Config) -> None:
        secure(c, opts=("no-new-privileges", f"seccomp={profile}"))

    b = bundle(["sh", "-c", "mkdir /refused; echo first=$?; mkdir /let-through; echo second=$?"], edit=edit)
    agent = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
    agent.bind(agent_path)
    agent.listen(1)
    agent.settimeout(20)
    proc = subprocess.Popen(rt.cmd("run", "-b", str(b), new_id()), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    listener = -1
    seen: list[tuple[int, str]] = []
    try:
        conn, _ = agent.accept()
        with conn:
            conn.settimeout(20)
            data, fds, _flags, _addr = socket.recv_fds(conn, 1 << 16, 4)
        message = json.loads(data)
        assert len(fds) == 1
        listener = fds[0]
        answers: list[dict[str, Any]] = [{"error": errno.EXDEV}, {"cont": True}]
        for answer in answers:
            ready, _, _ = select.select([listener], [], [], 20)
            assert ready, "no notification from the container"
            note = lib.notif_recv(listener)
            seen.append((note.syscall, os.readlink(f"/proc/{note.pid}/ns/pid")))
            lib.notif_respond(listener, note.id, **answer)
        out, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
        if listener >= 0:
            os.close(listener)
        agent.close()
    assert proc.returncode == 0, err
    assert results(out) == {"first": "1", "second": "0"}
    assert "Invalid cross-device link" in err
    assert message["fds"] == ["seccompFd"] and message["metadata"] == "from-the-test"
    assert message["state"]["id"] and message["pid"] == message["state"]["pid"]
    mkdirs = {lib.syscall_resolve("mkdir"), lib.syscall_resolve("mkdirat")}
    container_pidns = {ns for _nr, ns in seen}
    assert all(nr in mkdirs for nr, _ns in seen)
    assert len(container_pidns) == 1 and container_pidns != {os.readlink("/proc/self/ns/pid")}
    rootfs = Path(json.loads((b / "config.json").read_text())["root"]["path"])
    assert (rootfs / "let-through").is_dir() and not (rootfs / "refused").exists()
    assert_nothing_left(rt)


# --- masked and read-only paths -----------------------------------------------------------------


def test_masked_paths_read_empty(rt: Runtime, bundle: Bundle) -> None:
    script = ("for f in /proc/keys /proc/timer_list /proc/interrupts; do echo $f=$(wc -c < $f); done; "
              "for d in /proc/acpi /sys/firmware; do echo $d=$(ls -A $d | wc -l); done; "
              "test -e /proc/kcore; echo kcore=$?")
    confined = results(run(rt, bundle, script).stdout)
    assert confined == {"/proc/keys": "0", "/proc/timer_list": "0", "/proc/interrupts": "0", "/proc/acpi": "0",
                        "/sys/firmware": "0", "kcore": "1"}
    # The same reads without the masks give something: the masks are what empties them.
    free = results(run(rt, bundle, script, opts=("no-new-privileges", "systempaths=unconfined")).stdout)
    assert int(free["/proc/timer_list"]) > 0 and int(free["/proc/interrupts"]) > 0 and int(free["/sys/firmware"]) > 0


def test_read_only_paths_refuse_writes(rt: Runtime, bundle: Bundle) -> None:
    # CAP_SYS_ADMIN would let root write kernel.domainname of its own UTS namespace: only the
    # read-only mount stops it.
    script = ("echo boxy > /proc/sys/kernel/domainname; echo write=$?; cat /proc/sys/kernel/domainname; "
              "grep -E ' /proc/(sys|fs|irq|bus) ' /proc/self/mountinfo | cut -d' ' -f5,6")
    out = run(rt, bundle, script, cap_add=("SYS_ADMIN",))
    assert out.returncode == 0, out.stderr
    assert results(out.stdout)["write"] == "1"
    assert "Read-only file system" in out.stderr
    lines = out.stdout.splitlines()
    assert "boxy" not in lines
    mounts = dict(line.split(" ", 1) for line in lines if line.startswith("/proc/"))
    assert "/proc/sys" in mounts
    assert all(opts.split(",")[0] == "ro" for opts in mounts.values()), mounts
    free = run(rt, bundle, script, cap_add=("SYS_ADMIN",), opts=("no-new-privileges", "systempaths=unconfined"))
    assert results(free.stdout)["write"] == "0" and "boxy" in free.stdout.splitlines(), free.stderr


def _dev_null_char_zero(c: Config, tmp_path: Path) -> None:
    c["linux"]["devices"] = [{"path": "/dev/null", "type": "c", "major": 1, "minor": 5, "fileMode": 0o666}]


def _dev_null_fifo(c: Config, tmp_path: Path) -> None:
    c["linux"]["devices"] = [{"path": "/dev/null", "type": "p", "fileMode": 0o666}]


def _dev_null_regular_file(c: Config, tmp_path: Path) -> None:
    dev = tmp_path / new_id("dev")
    dev.mkdir()
    (dev / "null").write_text("")
    c["mounts"] = [m for m in c["mounts"] if m["destination"] != "/dev"]
    c["mounts"].insert(1, {"destination": "/dev", "type": "bind", "source": str(dev), "options": ["rbind"]})


@pytest.mark.parametrize("replace", [_dev_null_char_zero, _dev_null_fifo, _dev_null_regular_file],
                         ids=["char-1-5", "fifo", "regular-file"])
def test_a_dev_null_that_is_not_the_null_device_is_refused(rt: Runtime, bundle: Bundle, tmp_path: Path,
                                                           replace: Callable[[Config, Path], None]) -> None:
    if not is_pallet():
        pytest.skip("runc masks paths with whatever the container's /dev/null is")

    def edit(c: Config) -> None:
        secure(c)
        replace(c, tmp_path)

    b = bundle(["sh", "-c", "wc -c < /proc/timer_list"], edit=edit)
    out = rt.run("run", "-b", str(b), new_id())
    assert out.returncode != 0, out.stdout
    assert "/dev/null" in out.stderr and "not the null device" in out.stderr, out.stderr
    assert_nothing_left(rt)


# --- LSM labels ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("section", "key", "value", "lsm"), [
    ("process", "apparmorProfile", "pallet-test-profile", "AppArmor"),
    ("process", "selinuxLabel", "system_u:system_r:container_t:s0", "SELinux"),
    ("linux", "mountLabel", "system_u:object_r:container_file_t:s0", "SELinux"),
])
def test_a_label_this_host_cannot_apply_is_refused(rt: Runtime, bundle: Bundle, section: str, key: str,
                                                   value: str, lsm: str) -> None:
    from pallet.runtime.lsm import apparmor_enabled, selinux_enabled

    if apparmor_enabled() or selinux_enabled():
        pytest.skip("this host has an LSM enabled")

    def edit(c: Config) -> None:
        secure(c)
        c[section][key] = value

    out = rt.run("run", "-b", str(bundle(["true"], edit=edit)), new_id())
    assert out.returncode != 0
    assert says(out.stderr, f"{section}.{key} {value!r}", f"{lsm} is not enabled"), out.stderr
    assert_nothing_left(rt)


def test_the_engine_leaves_out_labels_with_a_warning_and_the_container_runs(rt: Runtime, bundle: Bundle) -> None:
    warnings: list[str] = []

    def edit(c: Config) -> None:
        warnings.extend(secure(c, opts=("no-new-privileges", "apparmor=docker-default", "label=type:spc_t")))

    out = rt.run("run", "-b", str(bundle(["sh", "-c", SHOW_STATUS], edit=edit)), new_id())
    assert out.returncode == 0, out.stderr
    assert status(out.stdout)["CapEff"] == DOCKER_DEFAULT_MASK
    assert any("AppArmor" in w for w in warnings) and any("SELinux" in w for w in warnings)


# --- exec ---------------------------------------------------------------------------------------


def test_exec_gets_the_same_privileges(rt: Runtime, bundle: Bundle, tmp_path: Path) -> None:
    def edit(c: Config) -> None:
        secure(c)

    b = bundle(["sleep", "30"], edit=edit)
    cid = new_id()
    rt.run("run", "-d", "-b", str(b), cid, check=True, capture_output=False, stdin=subprocess.DEVNULL,
           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        out = rt.run("exec", cid, "sh", "-c", SHOW_STATUS + "; ls /proc/1/fd | wc -l")
        nice = rt.run("exec", "--cap", "CAP_SYS_NICE", cid, "sh", "-c", SHOW_STATUS + "; renice -n -5 -p $$")
        user = rt.run("exec", "--user", "1000:1000", cid, "sh", "-c", SHOW_STATUS)
    finally:
        rt.run("delete", "--force", cid)
    assert out.returncode == 0, out.stderr
    assert status(out.stdout) == {
        "CapInh": 0, "CapPrm": DOCKER_DEFAULT_MASK, "CapEff": DOCKER_DEFAULT_MASK, "CapBnd": DOCKER_DEFAULT_MASK,
        "CapAmb": 0, "NoNewPrivs": 1, "Seccomp": 2,
    }
    assert out.stdout.split()[-1] == "3"  # the container's PID 1 holds only 0, 1, 2
    assert nice.returncode == 0, nice.stderr
    assert status(nice.stdout)["CapEff"] == DOCKER_DEFAULT_MASK | mask("SYS_NICE")
    # A non-root process loses the listed capabilities at execve (none is ambient), as with runc.
    assert user.returncode == 0, user.stderr
    assert status(user.stdout)["CapEff"] == 0 and status(user.stdout)["CapPrm"] == 0


def _reap_orphans() -> None:
    """Reap what reparented to this process (pytest is a child subreaper)."""
    while True:
        try:
            pid, _status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def test_exec_cwd_through_runtime_fds_stays_inside_and_the_container_is_deletable(
        rt: Runtime, bundle: Bundle) -> None:
    b = bundle(["sleep", "30"], edit=lambda c: secure(c))
    cid = new_id()
    rt.run("run", "-d", "-b", str(b), cid, check=True, capture_output=False, stdin=subprocess.DEVNULL,
           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        # a cwd through one of the runtime's own fds must not lead outside the container
        for n in range(3, 12):
            cwd = rt.run("exec", "--cwd", f"/proc/self/fd/{n}", cid, "pwd")
            assert cwd.returncode != 0 or cwd.stdout.strip() == "/", (n, cwd.stdout, cwd.stderr)
        deleted = rt.run("delete", "--force", cid, timeout=30)
        assert deleted.returncode == 0, deleted.stderr
    finally:
        _reap_orphans()
        rt.run("delete", "--force", cid)


# --- user namespaces ----------------------------------------------------------------------------


USERNS_SCRIPT = ("id -u; cat /proc/self/uid_map; stat -c '%u:%g' / /bin/busybox; "
                 "touch /made && chown 1000:1000 /made; echo made=$?; " + SHOW_STATUS)


def _run_userns(rt: Runtime, top: Path, rootfs: Path | None) -> subprocess.CompletedProcess[str]:
    config = make_config(["sh", "-c", USERNS_SCRIPT])
    secure(config)
    in_user_namespace(config)
    bundle = top / "bundle"
    bundle.mkdir(exist_ok=True)
    write_bundle(bundle, rootfs or bundle / "rootfs", config)
    return rt.run("run", "-b", str(bundle), new_id())


def _check_mapped_root(out: subprocess.CompletedProcess[str]) -> None:
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0] == "0"
    assert lines[1].split() == ["0", "100000", "65536"]  # the container's root is host uid 100000
    assert lines[2:4] == ["0:0", "0:0"]
    assert results(out.stdout)["made"] == "0", out.stderr
    assert status(out.stdout)["CapEff"] == DOCKER_DEFAULT_MASK


def test_userns_rootfs_through_an_idmapped_mount(rt: Runtime, busybox_rootfs: Path, reachable_dir: Path) -> None:
    from pallet._linux.consts import MNT_DETACH
    from pallet._linux.mount import umount2
    from pallet.runtime import idmap

    image = copy_rootfs(busybox_rootfs, reachable_dir / "image")
    target = reachable_dir / "bundle" / "rootfs"
    target.mkdir(parents=True)
    assert idmap.supports_idmap(str(image))
    userns = idmap.make_userns(USERNS_MAP, USERNS_MAP)
    try:
        idmap.idmapped_bind(str(image), str(target), userns)
        try:
            out = _run_userns(rt, reachable_dir, None)
        finally:
            umount2(str(target), MNT_DETACH)
    finally:
        os.close(userns)
    _check_mapped_root(out)
    # What the container's root wrote is on disk with the image's own ids: nothing was shifted.
    made = os.stat(image / "made")
    assert (made.st_uid, made.st_gid) == (1000, 1000)
    assert os.stat(image / "bin" / "busybox").st_uid == 0
    assert_nothing_left(rt)


def test_userns_rootfs_through_a_chown_copy(rt: Runtime, busybox_rootfs: Path, reachable_dir: Path) -> None:
    from pallet.runtime import idmap

    rootfs = reachable_dir / "shifted"
    idmap.chown_copy(str(busybox_rootfs), str(rootfs), USERNS_MAP, USERNS_MAP)
    out = _run_userns(rt, reachable_dir, rootfs)
    _check_mapped_root(out)
    made = os.stat(rootfs / "made")
    assert (made.st_uid, made.st_gid) == (101000, 101000)
    assert os.stat(rootfs / "bin" / "busybox").st_uid == 100000
    assert_nothing_left(rt)


def test_userns_without_shifting_leaves_the_rootfs_to_nobody(rt: Runtime, busybox_rootfs: Path,
                                                              reachable_dir: Path) -> None:
    rootfs = copy_rootfs(busybox_rootfs, reachable_dir / "plain")
    out = _run_userns(rt, reachable_dir, rootfs)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[2:4] == ["65534:65534", "65534:65534"]  # the host's root is not mapped
    assert results(out.stdout)["made"] != "0"
    assert not (rootfs / "made").exists()
