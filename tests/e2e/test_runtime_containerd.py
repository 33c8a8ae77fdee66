"""containerd drives pallet-runtime in place of runc, through its runc shim (io.containerd.runc.v2).

The test starts a containerd of its own (private config, root, state and socket in the test's
temporary directory; no CRI plugin), imports a busybox image made by `pallet save` with
`ctr images import`, and runs containers with `ctr --runc-binary pallet-runtime`: a foreground run,
a detached task (exec, ps, pause/resume, kill, delete, kill --all) and runs with a terminal.
Containers get their own (empty) network namespace and a cgroup under the session's test parent.
At the end it stops containerd and checks that no shim, mount or shim socket of its own is left.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.helpers.cli import Pallet
from tests.helpers.leaks import TEST_CGROUP_PARENT, cmdline, mountpoints
from tests.helpers.oci import run_in_terminal
from tests.helpers.wait import until

RUNTIME = str(Path(sys.executable).with_name("pallet-runtime"))
IMAGE = "docker.io/library/busybox:latest"
SHIM_SOCKETS = Path("/run/containerd/s")  # where containerd 1.6's shims put their sockets (not configurable)

pytestmark = pytest.mark.skipif(
    any(shutil.which(b) is None for b in ("containerd", "ctr", "containerd-shim-runc-v2")),
    reason="containerd is not installed (scripts/setup installs it)")

_CONFIG = """version = 2
root = "{base}/root"
state = "{base}/state"
disabled_plugins = ["io.containerd.grpc.v1.cri", "io.containerd.internal.v1.opt",
                    "io.containerd.snapshotter.v1.aufs",
                    "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.devmapper",
                    "io.containerd.snapshotter.v1.zfs"]
[grpc]
  address = "{base}/containerd.sock"
[ttrpc]
  address = "{base}/containerd.sock.ttrpc"
[debug]
  level = "debug"
"""


class Containerd:
    """A private containerd and `ctr` pointed at it, running tasks with pallet-runtime."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self.sock = str(base / "containerd.sock")
        self.runc_root = base / "runc-root"  # the runtime's --root is <this>/<namespace>
        self.fifo_dir = base / "fifo"
        self.log = base / "containerd.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        (self.base / "config.toml").write_text(_CONFIG.format(base=self.base))
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen(["containerd", "--config", str(self.base / "config.toml")],
                                         stdin=subprocess.DEVNULL, stdout=log, stderr=log)
        deadline = time.monotonic() + 20
        while True:
            if self.proc.poll() is not None:
                raise AssertionError(f"containerd exited {self.proc.returncode}:\n{self.log_tail()}")
            if os.path.exists(self.sock) and self.ctr("version", check=False).returncode == 0:
                return
            if time.monotonic() > deadline:
                raise AssertionError(f"containerd did not come up:\n{self.log_tail()}")
            time.sleep(0.05)

    def log_tail(self, n: int = 40) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return ""

    def ctr(self, *args: str, check: bool = True, input: str | None = None,
            timeout: float = 30) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(["ctr", "--address", self.sock, *args], capture_output=True, text=True,
                              input=input, stdin=None if input is not None else subprocess.DEVNULL,
                              timeout=timeout)
        if check and proc.returncode != 0:
            raise AssertionError(f"ctr {' '.join(args)} exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}\n"
                                 f"containerd log:\n{self.log_tail()}")
        return proc

    def run_args(self, name: str) -> list[str]:
        """`ctr run` options that pick the runc shim with pallet-runtime, and the test cgroup parent."""
        return ["--runtime", "io.containerd.runc.v2", "--runc-binary", RUNTIME, "--runc-root", str(self.runc_root),
                "--snapshotter", "overlayfs", "--fifo-dir", str(self.fifo_dir),
                "--cgroup", f"/{TEST_CGROUP_PARENT}/{name}"]

    def bundle(self, name: str) -> Path:
        return self.base / "state" / "io.containerd.runtime.v2.task" / "default" / name

    def runtime_state(self, name: str) -> dict[str, object]:
        out = subprocess.run([RUNTIME, "--root", str(self.runc_root / "default"), "state", name],
                             capture_output=True, text=True, check=True, timeout=10).stdout
        state: dict[str, object] = json.loads(out)
        return state

    def task_status(self) -> str:
        """The status column of the first task `ctr tasks list` shows (the tests run one at a time)."""
        return self.ctr("tasks", "list").stdout.split("\n")[1].split()[2]

    def shim_socket(self, name: str) -> Path:
        # containerd 1.6 names a shim's socket after sha256(<containerd address>/<namespace>/<id>).
        return SHIM_SOCKETS / hashlib.sha256(f"{self.sock}/default/{name}".encode()).hexdigest()

    def shims(self) -> list[int]:
        out = []
        for entry in os.listdir("/proc"):
            if entry.isdigit() and "containerd-shim" in (cmd := cmdline(int(entry))):
                words = cmd.split()
                if any(a == "-address" and b == self.sock for a, b in itertools.pairwise(words)):
                    out.append(int(entry))
        return out

    def remove_all(self) -> None:
        """Kill and delete every task and container of this containerd (what a failed test left)."""
        for name in self.ctr("containers", "list", "-q", check=False).stdout.split():
            self.ctr("tasks", "kill", "--all", "--signal", "SIGKILL", name, check=False)
            self.ctr("tasks", "delete", "--force", name, check=False)
            self.ctr("containers", "delete", name, check=False)

    def stop(self) -> list[str]:
        """Stop containerd and remove its files; what had to be cleaned up by force."""
        problems: list[str] = []
        if self.proc is not None and self.proc.poll() is None:
            self.remove_all()
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        deadline = time.monotonic() + 5
        while (left := self.shims()) and time.monotonic() < deadline:
            time.sleep(0.05)
        for pid in left:
            problems.append(f"shim left: pid {pid}: {cmdline(pid)}")
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        # Snapshots are overlay mounts on each task's bundle/rootfs: unmount any left, deepest first.
        for m in sorted((m for m in mountpoints() if m.startswith(f"{self.base}/")), reverse=True):
            problems.append(f"mount left: {m}")
            subprocess.run(["umount", "-l", m], capture_output=True)
        shutil.rmtree(self.base, ignore_errors=True)
        return problems


@pytest.fixture(scope="module")
def containerd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Containerd]:
    tmp_path = tmp_path_factory.mktemp("containerd")
    had_run_dir, had_sockets = SHIM_SOCKETS.parent.exists(), SHIM_SOCKETS.exists()
    c = Containerd(tmp_path / "ctrd")
    c.base.mkdir()
    store = Pallet(tmp_path / "pallet")
    try:
        store.make_busybox()
        store("save", "-o", str(tmp_path / "busybox.tar"), "busybox")
        c.start()
        c.ctr("images", "import", str(tmp_path / "busybox.tar"))
        assert IMAGE in c.ctr("images", "list", "-q").stdout.split()
        yield c
    finally:
        store.cleanup()
        problems = c.stop()
        # The shim socket directories, if this test's shims were the ones to make them (and they are empty).
        for path, existed in ((SHIM_SOCKETS, had_sockets), (SHIM_SOCKETS.parent, had_run_dir)):
            if not existed:
                try:
                    os.rmdir(path)
                except OSError:
                    pass
        assert not problems, problems


def _gone(c: Containerd, name: str) -> None:
    """Nothing of container ``name`` is left: no container, task, runtime state, bundle or shim socket."""
    assert name not in c.ctr("containers", "list", "-q").stdout.split()
    assert not (c.runc_root / "default" / name).exists()
    assert not c.bundle(name).exists()
    deadline = time.monotonic() + 5
    while c.shim_socket(name).exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not c.shim_socket(name).exists()


def test_foreground_run_returns_output_and_exit_code(containerd: Containerd) -> None:
    c = containerd
    script = ("echo pid=$$; read line; echo got=$line; grep -E ':(pids|memory):' /proc/self/cgroup; "
              "readlink /proc/self/ns/net; ls /sys/class/net; exit 3")
    out = c.ctr("run", "--rm", *c.run_args("fg"), IMAGE, "fg", "sh", "-c", script, input="hello\n", check=False)
    assert out.returncode == 3, (out.stdout, out.stderr, c.log_tail())
    lines = out.stdout.splitlines()
    assert lines[0] == "pid=1"
    assert lines[1] == "got=hello"
    cgroup_lines = [line for line in lines if line.startswith(tuple("0123456789"))]
    assert cgroup_lines and all(line.endswith(f"/{TEST_CGROUP_PARENT}/fg") for line in cgroup_lines), lines
    # Its own network namespace, with only a loopback: the host's network is untouched.
    assert f"net:[{os.stat('/proc/self/ns/net').st_ino}]" not in lines
    assert lines[-1] == "lo"
    _gone(c, "fg")


def _ticks(c: Containerd, name: str) -> int:
    text = (c.bundle(name) / "rootfs" / "tick").read_text().strip()
    return int(text) if text else -1


def _wait_ticking(c: Containerd, name: str) -> int:
    deadline = time.monotonic() + 10
    while True:
        try:
            first = _ticks(c, name)
            time.sleep(0.3)
            if _ticks(c, name) > first:
                return first
        except (OSError, ValueError):
            time.sleep(0.05)
        assert time.monotonic() < deadline, "the container's loop does not advance"


def test_detached_task_exec_ps_pause_resume_kill_delete(containerd: Containerd) -> None:
    c = containerd
    loop = 'trap "exit 7" TERM; i=0; while :; do i=$((i+1)); echo $i > /tick; sleep 0.05; done'
    c.ctr("run", "--detach", *c.run_args("bg"), IMAGE, "bg", "sh", "-c", loop)
    try:
        # The runc shim really runs pallet-runtime: the options it got, and pallet-runtime's own state.
        options = json.loads((c.bundle("bg") / "options.json").read_text())
        assert options["binary_name"] == RUNTIME
        state = c.runtime_state("bg")
        assert state["status"] == "running"
        assert c.shim_socket("bg").exists()
        tasks = c.ctr("tasks", "list").stdout.split("\n")[1].split()
        assert tasks == ["bg", str(state["pid"]), "RUNNING"]
        _wait_ticking(c, "bg")

        out = c.ctr("tasks", "exec", "--exec-id", "e1", "--fifo-dir", str(c.fifo_dir), "bg",
                    "sh", "-c", "echo exec-ok $$; exit 4", check=False)
        assert out.returncode == 4, (out.stdout, out.stderr)
        assert out.stdout.split()[0] == "exec-ok" and out.stdout.split()[1] != "1"

        # A long exec: `task ps` lists it beside the init process (pallet-runtime ps --format json).
        sleeper = subprocess.Popen(["ctr", "--address", c.sock, "tasks", "exec", "--exec-id", "e2", "--fifo-dir",
                                    str(c.fifo_dir), "bg", "sleep", "30"], stdin=subprocess.DEVNULL,
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            deadline = time.monotonic() + 10
            while "ExecID:e2" not in (ps := c.ctr("tasks", "ps", "bg").stdout) and time.monotonic() < deadline:
                time.sleep(0.1)
            assert "ExecID:e2" in ps, ps
            assert str(state["pid"]) in ps.split()

            c.ctr("tasks", "pause", "bg")
            assert c.task_status() == "PAUSED"
            assert c.runtime_state("bg")["status"] == "paused"
            frozen = _ticks(c, "bg")
            time.sleep(0.4)
            assert _ticks(c, "bg") == frozen, "the paused container still runs"
            c.ctr("tasks", "resume", "bg")
            assert c.task_status() == "RUNNING"
            _wait_ticking(c, "bg")

            # SIGTERM reaches the init's trap: it exits 7; the exec dies with the PID namespace.
            c.ctr("tasks", "kill", "bg")
            until(lambda: c.task_status() == "STOPPED")
            assert sleeper.wait(10) == 137
        finally:
            if sleeper.poll() is None:
                sleeper.kill()
            sleeper.communicate()
        out = c.ctr("tasks", "delete", "bg", check=False)
        assert "exit code 7" in out.stderr, (out.stdout, out.stderr)
        assert not os.path.exists(f"/proc/{state['pid']}")
        c.ctr("containers", "delete", "bg")
    finally:
        c.remove_all()
    _gone(c, "bg")


def test_kill_all_and_force_delete(containerd: Containerd) -> None:
    c = containerd
    c.ctr("run", "--detach", *c.run_args("ka"), IMAGE, "ka", "sleep", "60")
    try:
        sleeper = subprocess.Popen(["ctr", "--address", c.sock, "tasks", "exec", "--exec-id", "s", "--fifo-dir",
                                    str(c.fifo_dir), "ka", "sleep", "30"], stdin=subprocess.DEVNULL,
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        until(lambda: "ExecID:s" in c.ctr("tasks", "ps", "ka").stdout, interval=0.1)
        pids = [int(p) for p in c.ctr("tasks", "ps", "ka").stdout.split() if p.isdigit()]
        assert len(pids) == 2
        # `kill --all` (pallet-runtime kill --all ka 9) reaches every process of the container.
        c.ctr("tasks", "kill", "--all", "--signal", "SIGKILL", "ka")
        assert sleeper.wait(10) == 137
        sleeper.communicate()
        until(lambda: c.task_status() == "STOPPED")
        assert not any(os.path.exists(f"/proc/{p}") for p in pids)
        c.ctr("tasks", "delete", "ka", check=False)
        c.ctr("containers", "delete", "ka")

        # `tasks delete --force` of a running task: SIGKILL to all, then pallet-runtime delete.
        c.ctr("run", "--detach", *c.run_args("fd"), IMAGE, "fd", "sleep", "60")
        pid = int(str(c.runtime_state("fd")["pid"]))
        c.ctr("tasks", "delete", "--force", "fd")
        assert not os.path.exists(f"/proc/{pid}")
        c.ctr("containers", "delete", "fd")
    finally:
        c.remove_all()
    _gone(c, "ka")
    _gone(c, "fd")


def test_run_and_exec_with_a_terminal(containerd: Containerd) -> None:
    # The shim hands pallet-runtime a --console-socket and copies between the pty and ctr's terminal.
    c = containerd
    base = ["ctr", "--address", c.sock]
    out = run_in_terminal([*base, "run", "--rm", "--tty", *c.run_args("tty"), IMAGE, "tty", "sh", "-c",
                   "tty; echo tty-ok; exit 5"])
    text = out.stdout.replace("\r", "")
    assert out.returncode == 5, (out.stdout, out.stderr, c.log_tail())
    assert "/dev/pts/0" in text and "tty-ok" in text, text
    _gone(c, "tty")

    c.ctr("run", "--detach", *c.run_args("tx"), IMAGE, "tx", "sleep", "60")
    try:
        out = run_in_terminal([*base, "tasks", "exec", "--tty", "--exec-id", "t1", "--fifo-dir", str(c.fifo_dir), "tx",
                       "sh", "-c", "tty; echo exec-tty-ok; exit 6"])
        text = out.stdout.replace("\r", "")
        assert out.returncode == 6, (out.stdout, out.stderr)
        assert "/dev/pts/" in text and "exec-tty-ok" in text, text
        c.ctr("tasks", "kill", "--signal", "SIGKILL", "tx")
        until(lambda: c.task_status() == "STOPPED")
        c.ctr("tasks", "delete", "tx", check=False)
        c.ctr("containers", "delete", "tx")
    finally:
        c.remove_all()
    _gone(c, "tx")
