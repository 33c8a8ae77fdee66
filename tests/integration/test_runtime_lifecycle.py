"""create / start / state / kill / delete / exec / ps / list, as containerd and podman drive them."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from tests.helpers.leaks import cgroup_dirs, children, leftover_processes
from tests.helpers.oci import Runtime, assert_refused, is_pallet, new_id, says
from tests.helpers.terminal import PtyReader

Bundle = Callable[..., Path]


def _create(rt: Runtime, b: Path, cid: str, *extra: str) -> None:
    out = rt.run_detached("create", *extra, "--bundle", str(b), cid)
    assert out.returncode == 0, out.stderr


def _wait_status(rt: Runtime, cid: str, status: str, timeout: float = 10) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        state = rt.state(cid)
        if state["status"] == status or time.monotonic() > deadline:
            return state
        time.sleep(0.02)


def test_create_waits_until_start(rt: Runtime, bundle: Bundle, tmp_path: Path) -> None:
    marker = tmp_path / "rootfs" / "started"
    b = bundle(["sh", "-c", "touch /started; sleep 30"])
    cid = new_id()
    _create(rt, b, cid)
    state = rt.state(cid)
    assert state["status"] == "created"
    assert state["id"] == cid and state["bundle"] == str(b) and state["pid"] > 0
    time.sleep(0.3)
    assert not marker.exists(), "the process ran before start"
    rt.run("start", cid, check=True)
    assert _wait_status(rt, cid, "running")["status"] == "running"
    deadline = time.monotonic() + 5
    while not marker.exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert marker.exists()
    rt.run("kill", cid, "KILL", check=True)
    assert _wait_status(rt, cid, "stopped")["status"] == "stopped"
    rt.run("delete", cid, check=True)
    assert rt.run("state", cid).returncode != 0


def test_state_errors(rt: Runtime, bundle: Bundle) -> None:
    b = bundle(["sleep", "30"])
    cid = new_id()
    _create(rt, b, cid)
    # start twice
    rt.run("start", cid, check=True)
    again = rt.run("start", cid)
    assert again.returncode != 0 and "running" in again.stderr
    # delete of a running container without --force
    refused = rt.run("delete", cid)
    assert refused.returncode != 0 and "running" in refused.stderr
    # duplicate id
    dup = rt.run_detached("create", "--bundle", str(b), cid)
    assert dup.returncode != 0 and "already exists" in dup.stderr
    rt.run("kill", cid, "9", check=True)
    _wait_status(rt, cid, "stopped")
    stopped = rt.run("kill", cid, "TERM")
    assert stopped.returncode != 0 and "not running" in stopped.stderr
    rt.run("delete", cid, check=True)
    missing = rt.run("state", cid)
    assert missing.returncode != 0 and "does not exist" in missing.stderr


def test_delete_force_kills_and_removes_cgroup(rt: Runtime, bundle: Bundle) -> None:
    b = bundle(["sh", "-c", "sleep 30 & sleep 30 & wait"])
    cid = new_id()
    before = cgroup_dirs()
    _create(rt, b, cid)
    rt.run("start", cid, check=True)
    time.sleep(0.2)
    pids = json.loads(rt.run("ps", "--format", "json", cid, check=True).stdout)
    assert len(pids) == 3
    assert cgroup_dirs() - before, "the container has no cgroup"
    rt.run("delete", "--force", cid, check=True)
    for pid in pids:
        assert _gone(pid)
    assert cgroup_dirs() - before == set()


def _gone(pid: int) -> bool:
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            with open(f"/proc/{pid}/stat") as f:
                if f.read().rsplit(")", 1)[1].split()[0] in ("Z", "X"):
                    return True
        except FileNotFoundError:
            return True
        time.sleep(0.02)
    return False


def test_kill_all_reaches_every_process(rt: Runtime, bundle: Bundle) -> None:
    b = bundle(["sh", "-c", "trap '' TERM; sleep 30 & sleep 30 & wait; sleep 30"])
    cid = new_id()
    _create(rt, b, cid)
    rt.run("start", cid, check=True)
    time.sleep(0.2)
    pids = json.loads(rt.run("ps", "--format", "json", cid, check=True).stdout)
    rt.run("kill", "--all", cid, "KILL", check=True)
    assert all(_gone(p) for p in pids)
    assert _wait_status(rt, cid, "stopped")["status"] == "stopped"
    rt.run("delete", cid, check=True)


def test_cgroup_placement_is_the_configured_path(rt: Runtime, bundle: Bundle) -> None:
    b = bundle(["sleep", "30"])
    config = json.loads((b / "config.json").read_text())
    cgpath = config["linux"]["cgroupsPath"]
    cid = new_id()
    _create(rt, b, cid)
    pid = rt.state(cid)["pid"]
    with open(f"/proc/{pid}/cgroup") as f:
        lines = f.read().splitlines()
    assert any(line.endswith(":" + cgpath) for line in lines if ":memory:" in line or ":pids:" in line)
    with open(f"/sys/fs/cgroup/pids{cgpath}/cgroup.procs") as f:
        assert str(pid) in f.read().split()
    rt.run("delete", "--force", cid, check=True)


def test_a_cgroup_in_use_is_refused_and_left_alone(rt: Runtime, bundle: Bundle) -> None:
    # The cgroup is made once the children are forked: the refusal must still kill them, remove the
    # second container's state, and leave the first container's cgroup and process as they were.
    if not is_pallet():
        pytest.skip("runc on a v1 host lets a second container into a cgroup in use; pallet-runtime refuses")
    first = bundle(["sleep", "30"])
    cgpath = json.loads((first / "config.json").read_text())["linux"]["cgroupsPath"]
    second = bundle(["true"], edit=lambda c: c["linux"].__setitem__("cgroupsPath", cgpath))
    a, b = new_id(), new_id()
    _create(rt, first, a)
    pid = rt.state(a)["pid"]
    before = set(children())  # orphans reparent to the test process (a subreaper)
    for command in ("create", "run"):
        out = rt.run(command, "--bundle", str(second), b)
        assert out.returncode != 0, out.stderr
        assert says(out.stderr, "already exists and has processes", str(pid)), out.stderr
        assert [line.split()[0] for line in rt.run("list", check=True).stdout.splitlines()[1:]] == [a]
    assert leftover_processes(before) == []
    with open(f"/sys/fs/cgroup/pids{cgpath}/cgroup.procs") as f:
        assert f.read().split() == [str(pid)]
    assert rt.state(a)["status"] == "created"
    rt.run("delete", "--force", a, check=True)


def test_list_and_ps_table(rt: Runtime, bundle: Bundle) -> None:
    b = bundle(["sleep", "30"])
    cid = new_id()
    _create(rt, b, cid)
    rt.run("start", cid, check=True)
    listing = rt.run("list", check=True).stdout.splitlines()
    assert listing[0].split() == ["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"]
    assert any(line.startswith(cid) and "running" in line for line in listing)
    assert json.loads(rt.run("list", "--format", "json", check=True).stdout)[0]["id"] == cid
    table = rt.run("ps", cid, check=True).stdout.splitlines()
    assert "PID" in table[0] and any("sleep 30" in line for line in table[1:])
    rt.run("delete", "-f", cid, check=True)


def test_exec_joins_namespaces_and_cgroup(rt: Runtime, bundle: Bundle, tmp_path: Path) -> None:
    b = bundle(["sleep", "30"], hostname="inner")
    cid = new_id()
    _create(rt, b, cid)
    rt.run("start", cid, check=True)
    init = rt.state(cid)["pid"]
    out = rt.run("exec", "--env", "X=42", "--cwd", "/tmp", cid, "sh", "-c",
                 "hostname; echo $X; pwd; cat /proc/1/cmdline | tr '\\0' ' '; echo; ls /sys/class/net", check=True)
    lines = out.stdout.splitlines()
    assert lines[0] == "inner"
    assert lines[1] == "42"
    assert lines[2] == "/tmp"
    assert lines[3].strip() == "sleep 30"
    assert lines[4:] == ["lo"]
    for ns in ("pid", "net", "mnt", "uts", "ipc"):
        assert os.readlink(f"/proc/{init}/ns/{ns}")
    # exit code and user
    assert rt.run("exec", cid, "sh", "-c", "exit 5").returncode == 5
    assert rt.run("exec", "--user", "1000:1000", cid, "id", "-u", check=True).stdout.strip() == "1000"
    # detached exec with a pid file, and its process is in the container's cgroup
    pid_file = tmp_path / "exec.pid"
    assert rt.run_detached("exec", "-d", "--pid-file", str(pid_file), cid, "sleep", "20").returncode == 0
    epid = int(pid_file.read_text())
    pids = json.loads(rt.run("ps", "--format", "json", cid, check=True).stdout)
    assert epid in pids
    # The detached process was orphaned to us (the test process is the subreaper, as a shim would
    # be): end and reap it, or its zombie keeps the container's PID namespace from ending.
    os.kill(epid, 9)
    os.waitpid(epid, 0)
    # --process process.json
    proc = {"args": ["sh", "-c", "echo from-json $Y"], "env": ["Y=1", "PATH=/bin"], "cwd": "/", "user": {"uid": 0, "gid": 0}}
    (tmp_path / "process.json").write_text(json.dumps(proc))
    out = rt.run("exec", "--process", str(tmp_path / "process.json"), cid, check=True)
    assert out.stdout.strip() == "from-json 1"
    missing = rt.run("exec", cid, "nope-not-here")
    assert missing.returncode != 0 and "nope-not-here" in missing.stderr
    rt.run("delete", "-f", cid, check=True)


def test_exec_in_stopped_container_is_refused(rt: Runtime, bundle: Bundle) -> None:
    b = bundle(["true"])
    cid = new_id()
    _create(rt, b, cid)
    rt.run("start", cid, check=True)
    _wait_status(rt, cid, "stopped")
    out = rt.run("exec", cid, "true")
    assert out.returncode != 0 and says(out.stderr, "not running")
    rt.run("delete", cid, check=True)


def test_console_socket_receives_the_pty(rt: Runtime, bundle: Bundle, tmp_path: Path) -> None:
    def edit(c: dict) -> None:
        c["process"]["terminal"] = True
        c["process"]["consoleSize"] = {"height": 30, "width": 100}

    b = bundle(["sh", "-c", "tty; stty size; echo done"], edit=edit)
    sock_path = str(tmp_path / "console.sock")
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(sock_path)
    server.listen(1)
    cid = new_id()
    proc = subprocess.Popen(rt.cmd("create", "--console-socket", sock_path, "--bundle", str(b), cid),
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    server.settimeout(20)
    conn, _ = server.accept()
    _msg, fds, _flags, _addr = socket.recv_fds(conn, 1024, 1)
    conn.close()
    server.close()
    assert proc.wait(timeout=20) == 0
    assert fds, "no fd came over the console socket"
    master = fds[0]
    rt.run("start", cid, check=True)
    term = PtyReader(master)
    term.read_until(b"done", timeout=10)
    os.close(master)
    text = term.out.decode()
    assert "/dev/console" in text or "/dev/pts/" in text
    assert "30 100" in text
    _wait_status(rt, cid, "stopped")
    rt.run("delete", cid, check=True)


def test_terminal_without_console_socket_is_refused_by_create(rt: Runtime, bundle: Bundle) -> None:
    def edit(c: dict) -> None:
        c["process"]["terminal"] = True

    b = bundle(["true"], edit=edit)
    assert_refused(rt, rt.run_detached("create", "--bundle", str(b), new_id()), "console-socket")


def _hook(tmp_path: Path, name: str, body: str) -> str:
    path = tmp_path / name
    path.write_text("#!/bin/sh\n" + body + "\n")
    path.chmod(0o755)
    return str(path)


def test_hooks_run_with_state_in_order(rt: Runtime, bundle: Bundle, tmp_path: Path) -> None:
    log = tmp_path / "hooks.log"
    hooks = {
        kind: [{"path": _hook(tmp_path, kind, f'echo "{kind} $(cat | tr -d "\\n")" >> {log}'), "args": [kind]}]
        for kind in ("prestart", "createRuntime", "poststart", "poststop")
    }
    # createContainer runs in the container's namespaces (before pivot_root); its path is a host path
    hooks["createContainer"] = [{"path": _hook(tmp_path, "cc", f"echo createContainer $(hostname) >> {log}")}]
    b = bundle(["true"], hooks=hooks, hostname="hooked")
    cid = new_id()
    rt.run("run", "--bundle", str(b), cid, check=True)
    lines = log.read_text().splitlines()
    kinds = [line.split()[0] for line in lines]
    assert kinds == ["prestart", "createRuntime", "createContainer", "poststart", "poststop"]
    state = json.loads(lines[0].split(" ", 1)[1])
    assert state["id"] == cid and state["pid"] > 0 and state["bundle"] == str(b)
    assert json.loads(lines[4].split(" ", 1)[1])["status"] == "stopped"


def test_failing_hook_fails_create_and_leaves_nothing(rt: Runtime, bundle: Bundle, tmp_path: Path) -> None:
    hooks = {"createRuntime": [{"path": _hook(tmp_path, "bad", "echo broken >&2; exit 3")}]}
    b = bundle(["true"], hooks=hooks)
    before = cgroup_dirs()
    assert_refused(rt, rt.run_detached("create", "--bundle", str(b), new_id()), "createRuntime", "exit status 3",
                   "broken")
    assert cgroup_dirs() - before == set()


def test_hook_timeout(rt: Runtime, bundle: Bundle, tmp_path: Path) -> None:
    hooks = {"prestart": [{"path": _hook(tmp_path, "slow", "sleep 5"), "timeout": 1}]}
    b = bundle(["true"], hooks=hooks)
    out = rt.run("run", "--bundle", str(b), new_id())
    assert out.returncode != 0 and "timeout" in out.stderr


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (lambda c: c["process"].update(args=[]), "process.args"),
        (lambda c: c["process"].update(args="sh"), "process.args"),
        (lambda c: c.pop("root"), "root"),
        (lambda c: c["linux"]["namespaces"].append({"type": "foo"}), 'type "foo"'),
        (lambda c: c["process"]["user"].update(uid="0"), "process.user.uid"),
    ],
)
def test_bad_config_is_refused_with_the_path(rt: Runtime, bundle: Bundle, mutate: Callable[[dict], None],
                                             expected: str) -> None:
    b = bundle(["true"], edit=mutate)
    assert_refused(rt, rt.run_detached("create", "--bundle", str(b), new_id()), expected)


def test_invalid_json_and_missing_config(rt: Runtime, tmp_path: Path) -> None:
    b = tmp_path / "bad"
    b.mkdir()
    (b / "config.json").write_text('{"ociVersion": "1.2.0", ')
    out = rt.run_detached("create", "--bundle", str(b), new_id())
    assert out.returncode != 0 and says(out.stderr, "not valid JSON", "line 1")
    empty = tmp_path / "empty"
    empty.mkdir()
    out = rt.run_detached("create", "--bundle", str(empty), new_id())
    assert out.returncode != 0 and "config.json" in out.stderr


@pytest.mark.parametrize("cid", ["a/b", "..", ".", "x/../y", ""])
def test_bad_ids(rt: Runtime, bundle: Bundle, cid: str) -> None:
    b = bundle(["true"])
    assert_refused(rt, rt.run_detached("create", "--bundle", str(b), cid))


def test_proc_symlink_in_rootfs_is_refused(rt: Runtime, bundle: Bundle, rootfs: Path) -> None:
    (rootfs / "proc").rmdir()
    (rootfs / "elsewhere").mkdir()
    (rootfs / "proc").symlink_to("elsewhere")
    b = bundle(["true"])
    before = cgroup_dirs()
    assert_refused(rt, rt.run("run", "--bundle", str(b), new_id()), "/proc", "symlink")
    assert cgroup_dirs() - before == set()


def test_mount_destination_symlink_cannot_escape(rt: Runtime, bundle: Bundle, rootfs: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (rootfs / "escape").symlink_to(str(outside))  # absolute: must resolve inside the rootfs
    (rootfs / "up").symlink_to("../../../../../../../../" + str(outside).lstrip("/"))

    def edit(c: dict) -> None:
        c["mounts"].append({"destination": "/escape/x", "type": "tmpfs", "source": "tmpfs"})
        c["mounts"].append({"destination": "/up/y", "type": "tmpfs", "source": "tmpfs"})

    b = bundle(["sh", "-c", "touch /escape/x/a /up/y/b"], edit=edit)
    rt.run("run", "--bundle", str(b), new_id(), check=True)
    assert list(outside.iterdir()) == []
    assert (rootfs / str(outside).lstrip("/") / "x").is_dir()


@pytest.mark.skipif(not is_pallet(), reason="pallet's own spec and features documents")
def test_spec_and_features(tmp_path: Path, rt: Runtime) -> None:
    out = rt.run("spec", "--bundle", str(tmp_path), check=True)
    assert out.returncode == 0
    spec = json.loads((tmp_path / "config.json").read_text())
    assert spec["process"]["args"] == ["sh"] and spec["root"]["path"] == "rootfs"
    again = rt.run("spec", "--bundle", str(tmp_path))
    assert again.returncode != 0 and says(again.stderr, "exists")
    features = json.loads(rt.run("features", check=True).stdout)
    assert features["ociVersionMax"] == "1.2.0"
    assert "pid" in features["linux"]["namespaces"]
