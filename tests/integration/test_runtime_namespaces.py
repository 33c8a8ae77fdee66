"""Namespaces beyond the default set: time, cgroup, joined by path; and the foreground terminal."""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from tests.helpers.oci import Runtime, in_user_namespace, is_pallet, make_config, new_id, write_bundle
from tests.helpers.rootfs import copy_rootfs
from tests.helpers.terminal import PtyReader, spawn_in_pty

Bundle = Callable[..., Path]


def test_time_namespace_offsets(rt: Runtime, bundle: Bundle) -> None:
    if not os.path.exists("/proc/self/ns/time"):
        pytest.skip("this kernel has no time namespaces")
    if not is_pallet():
        pytest.skip("runc 1.1 has no time namespace")

    def edit(c: dict) -> None:
        c["linux"]["namespaces"].append({"type": "time"})
        c["linux"]["timeOffsets"] = {"boottime": {"secs": 86400 * 365, "nanosecs": 0}}

    b = bundle(["cat", "/proc/uptime"], edit=edit)
    inside = float(rt.run("run", "-b", str(b), new_id(), check=True).stdout.split()[0])
    with open("/proc/uptime") as f:
        host = float(f.read().split()[0])
    assert inside - host > 86400 * 364


def test_cgroup_namespace_shows_the_container_at_the_root(rt: Runtime, bundle: Bundle) -> None:
    b = bundle(["sh", "-c", "cat /proc/self/cgroup; ls /sys/fs/cgroup"])
    out = rt.run("run", "-b", str(b), new_id(), check=True).stdout.splitlines()
    memory = [line for line in out if ":memory:" in line]
    assert memory == [f"{memory[0].split(':')[0]}:memory:/"]
    assert "memory" in out and "pids" in out


def test_a_new_network_namespace_has_its_loopback_up(rt: Runtime, bundle: Bundle) -> None:
    # As runc and crun do: lo up (and nothing else) in the container's own network namespace.
    b = bundle(["sh", "-c", "ls /sys/class/net; cat /sys/class/net/lo/flags /sys/class/net/lo/operstate"])
    out = rt.run("run", "-b", str(b), new_id(), check=True).stdout.split()
    assert out == ["lo", out[1], "unknown"] and int(out[1], 16) & 1 == 1  # IFF_UP (lo reports "unknown")


def test_network_namespace_joined_by_path(rt: Runtime, bundle: Bundle, tmp_path: Path) -> None:
    holder = subprocess.Popen(["unshare", "--net", "sh", "-c", "ip link add dummy7 type veth peer name dummy8; exec sleep 30"])
    try:
        deadline = time.monotonic() + 10
        netns = f"/proc/{holder.pid}/ns/net"
        while time.monotonic() < deadline:
            if os.stat(netns).st_ino != os.stat("/proc/self/ns/net").st_ino:
                out = subprocess.run(["nsenter", "--net=" + netns, "ip", "-o", "link"], capture_output=True, text=True)
                if "dummy7" in out.stdout:
                    break
            time.sleep(0.02)

        def edit(c: dict) -> None:
            c["linux"]["namespaces"] = [n for n in c["linux"]["namespaces"] if n["type"] != "network"]
            c["linux"]["namespaces"].append({"type": "network", "path": netns})

        b = bundle(["sh", "-c", "ls /sys/class/net; cat /sys/class/net/lo/flags"], edit=edit)
        out = rt.run("run", "-b", str(b), new_id(), check=True).stdout.split()
        assert "dummy7" in out
        assert int(out[-1], 16) & 1 == 0  # a joined namespace is left as it is: its lo stays down
    finally:
        holder.kill()
        holder.wait()


def test_without_a_pid_namespace_the_process_is_one_of_the_hosts(rt: Runtime, bundle: Bundle) -> None:
    # No PID namespace in the config: the init shares the runtime's (no unshare around the fork).
    def edit(c: dict) -> None:
        c["linux"]["namespaces"] = [n for n in c["linux"]["namespaces"] if n["type"] != "pid"]

    b = bundle(["sh", "-c", "echo $$; readlink /proc/self/ns/pid"], edit=edit)
    out = rt.run("run", "-b", str(b), new_id(), check=True).stdout.split()
    assert int(out[0]) > 1
    assert out[1] == os.readlink("/proc/self/ns/pid")


def test_pid_namespace_joined_by_path(rt: Runtime, bundle: Bundle) -> None:
    # The runtime enters a PID namespace given by path for its child, the init, which is then one
    # more process there (not PID 1); the namespace's own PID 1 stays.
    holder = subprocess.Popen(["unshare", "--pid", "--fork", "--kill-child", "sleep", "30"])
    try:
        pidns = f"/proc/{holder.pid}/ns/pid_for_children"
        deadline = time.monotonic() + 10
        while os.readlink(pidns) == os.readlink("/proc/self/ns/pid") and time.monotonic() < deadline:
            time.sleep(0.02)

        def edit(c: dict) -> None:
            c["linux"]["namespaces"] = [n for n in c["linux"]["namespaces"] if n["type"] != "pid"]
            c["linux"]["namespaces"].append({"type": "pid", "path": pidns})

        b = bundle(["sh", "-c", "echo $$; cat /proc/1/cmdline"], edit=edit)
        out = rt.run("run", "-b", str(b), new_id(), check=True).stdout.split()
        assert int(out[0]) > 1
        assert out[1].split("\0")[0] == "sleep"
    finally:
        holder.kill()
        holder.wait()


@pytest.mark.skipif(not is_pallet(), reason="runc's foreground terminal handling differs in its output")
def test_foreground_run_in_a_terminal_proxies_the_pty(rt: Runtime, bundle: Bundle) -> None:
    def edit(c: dict) -> None:
        c["process"]["terminal"] = True

    b = bundle(["sh", "-c", "tty; read line; echo got:$line; exit 4"], edit=edit)
    pid, master = spawn_in_pty(rt.cmd("run", "-b", str(b), new_id()))
    term = PtyReader(master)
    if term.read_until(b"/dev/", timeout=20):
        os.write(master, b"hello\r")
    term.read_to_end(timeout=20)
    os.close(master)
    _, status = os.waitpid(pid, 0)
    text = term.out.decode(errors="replace")
    assert "/dev/console" in text or "/dev/pts/" in text
    assert "got:hello" in text
    assert os.waitstatus_to_exitcode(status) == 4


def test_idmapped_bind_mount_in_a_user_namespace(rt: Runtime, busybox_rootfs: Path, reachable_dir: Path) -> None:
    """A host directory owned by root, bound with "idmap": the container's root owns it, and what it
    writes there lands on the host as the directory's own owner, not as the mapped uid."""
    if not is_pallet():
        pytest.skip("pallet-runtime's idmapped bind mounts")
    top = reachable_dir
    data = top / "data"
    data.mkdir()
    (data / "owned-by-root").write_text("x")
    config = make_config(["sh", "-c", "stat -c '%u:%g' /data/owned-by-root /plain/owned-by-root; "
                                      "touch /data/made-inside; id -u"])
    in_user_namespace(config)
    config["mounts"].append({"destination": "/data", "type": "bind", "source": str(data),
                             "options": ["bind", "idmap"]})
    config["mounts"].append({"destination": "/plain", "type": "bind", "source": str(data),
                             "options": ["bind", "ro"]})
    rootfs = copy_rootfs(busybox_rootfs, top / "rootfs")
    # the rootfs belongs to host root: the mapped root cannot make mount points in it itself
    (rootfs / "data").mkdir()
    (rootfs / "plain").mkdir()
    b = write_bundle(top / "bundle", rootfs, config)
    out = rt.run("run", "-b", str(b), new_id(), check=True).stdout.split()
    assert out[0] == "0:0"            # through the idmapped mount: the container's root owns it
    assert out[1] == "65534:65534"    # the same file without: host root is nobody in the container
    assert out[2] == "0"
    st = os.stat(data / "made-inside")
    assert (st.st_uid, st.st_gid) == (0, 0), json.dumps([st.st_uid, st.st_gid])


def test_user_namespace_bind_source_need_not_be_reachable_by_the_mapped_root(
        rt: Runtime, busybox_rootfs: Path, tmp_path: Path, reachable_dir: Path) -> None:
    """The parent opens bind sources in the host's namespaces (as runc does): a source under a
    directory private to host root still reaches a container whose root is host uid 100000."""
    if not is_pallet():
        pytest.skip("pallet-runtime opens bind sources in the parent")
    private = tmp_path / "private"  # pytest's tmp dirs are 0700, root's
    (private / "shared").mkdir(parents=True)
    (private / "shared" / "note").write_text("from the host\n")
    os.chmod(private / "shared" / "note", 0o644)
    top = reachable_dir
    config = make_config(["cat", "/mnt/shared/note"])
    in_user_namespace(config)
    config["mounts"].append({"destination": "/mnt/shared", "type": "bind", "source": str(private / "shared"),
                             "options": ["rbind", "ro"]})
    rootfs = copy_rootfs(busybox_rootfs, top / "rootfs")
    (rootfs / "mnt" / "shared").mkdir(parents=True)
    b = write_bundle(top / "bundle", rootfs, config)
    out = rt.run("run", "-b", str(b), new_id(), check=True)
    assert out.stdout == "from the host\n"
