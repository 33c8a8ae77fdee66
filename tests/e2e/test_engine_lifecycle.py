"""Lifecycle and behaviour through the CLI: restart policy, OOM, --init, pause, exec, top, update, names."""

from __future__ import annotations

import json
import os
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from tests.helpers.cli import Pallet
from tests.helpers.terminal import PtyReader, spawn_in_pty
from tests.helpers.wait import until


def test_rm_detached_is_removed_after_exit_and_logs_survive_cli(pallet: Pallet) -> None:
    pallet("run", "-d", "--name", "keep", "busybox", "sh", "-c", "echo from-detached; sleep 0.2")
    pallet("run", "-d", "--rm", "--name", "gone", "busybox", "true")
    until(lambda: pallet("inspect", "gone", check=False).returncode != 0)
    until(lambda: pallet.inspect("keep")["State"]["Status"] == "exited")
    assert pallet.out("logs", "keep") == "from-detached"
    log = json.loads(Path(pallet.inspect("keep")["LogPath"]).read_text().splitlines()[0])
    assert log["stream"] == "stdout" and log["log"] == "from-detached\n" and log["time"].endswith("Z")


def test_stop_wait_rm_of_an_auto_removed_container(pallet: Pallet) -> None:
    # As docker: the container goes with its record, and stop, wait and rm -f still succeed (wait
    # with the exit code, from the container's "die" event).
    cid = pallet.out("run", "-d", "--rm", "--network", "none", "busybox", "sleep", "30")
    assert pallet.out("stop", "-t", "1", cid) == cid
    assert pallet("inspect", cid, check=False).returncode == 1
    cid = pallet.out("run", "-d", "--rm", "--network", "none", "busybox", "sh", "-c", "sleep 0.3; exit 3")
    assert pallet.out("wait", cid) == "3"
    cid = pallet.out("run", "-d", "--rm", "--network", "none", "busybox", "sleep", "30")
    assert pallet.out("rm", "-f", cid) == cid
    assert pallet.out("ps", "-a", "-q") == ""


def test_restart_on_failure_counts(pallet: Pallet) -> None:
    pallet("run", "-d", "--name", "flaky", "--restart", "on-failure:2", "busybox", "sh", "-c", "exit 3")
    until(lambda: (d := pallet.inspect("flaky"))["RestartCount"] == 2 and d["State"]["Status"] == "exited")
    doc = pallet.inspect("flaky")
    assert doc["State"]["ExitCode"] == 3


def test_oom_kill_sets_oomkilled_and_137(pallet: Pallet) -> None:
    proc = pallet("run", "--name", "oom", "-m", "8m", "--memory-swap", "8m", "busybox", "sh", "-c",
                  "x=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa; while true; do x=$x$x; done", check=False)
    assert proc.returncode == 137
    doc = pallet.inspect("oom")
    assert doc["State"]["OOMKilled"] is True and doc["State"]["ExitCode"] == 137


def test_init_reaps_zombies(pallet: Pallet) -> None:
    # Without an init, the orphaned child of sh stays a zombie under PID 1 = sleep.
    script = "sh -c 'sleep 0.1 &' ; sleep 0.5; ps -o stat | grep -c Z || true"
    out = pallet.out("run", "--rm", "--init", "busybox", "sh", "-c", script)
    assert out == "0"
    assert pallet.out("run", "--rm", "--init", "busybox", "ps", "-o", "pid,comm").splitlines()[1].split()[0] == "1"


def test_pause_exec_top_update(pallet: Pallet) -> None:
    pallet("run", "-d", "--name", "box", "busybox", "sleep", "60")
    assert pallet.out("exec", "box", "cat", "/etc/hostname") == pallet.inspect("box")["Config"]["Hostname"]
    assert pallet("exec", "box", "sh", "-c", "exit 7", check=False).returncode == 7
    top = pallet.out("top", "box")
    assert "sleep 60" in top and top.splitlines()[0].split()[:2] == ["UID", "PID"]
    pallet("pause", "box")
    doc = pallet.inspect("box")
    assert doc["State"]["Paused"] is True and doc["State"]["Status"] == "paused"
    pid = doc["State"]["Pid"]
    assert Path(f"/proc/{pid}/status").read_text().count("State:\tD") + \
        Path(f"/proc/{pid}/status").read_text().count("State:\tS") == 1
    pallet("unpause", "box")
    assert pallet.inspect("box")["State"]["Status"] == "running"
    pallet("update", "--memory", "64m", "--memory-swap", "128m", "box")
    cg = Path(f"/sys/fs/cgroup/memory/{pallet.env['PALLET_CGROUP_PARENT']}/{doc['Id']}/memory.limit_in_bytes")
    assert int(cg.read_text()) == 64 * 1024 * 1024
    assert pallet.inspect("box")["HostConfig"]["Memory"] == 64 * 1024 * 1024
    pallet("rename", "box", "box2")
    assert pallet.inspect("box2")["Name"] == "/box2"
    pallet("kill", "box2")
    until(lambda: pallet.inspect("box2")["State"]["ExitCode"] == 137)


def test_parallel_names_exactly_one_wins(pallet: Pallet) -> None:
    with ThreadPoolExecutor(6) as pool:
        procs = list(pool.map(lambda _: pallet("create", "--name", "same", "busybox", "true", check=False), range(6)))
    winners = [p for p in procs if p.returncode == 0]
    assert len(winners) == 1
    for p in procs:
        if p.returncode != 0:
            assert p.returncode == 1  # docker create: a daemon error exits 1
            assert 'Conflict. The container name "/same" is already in use by container' in p.stderr
    assert len(pallet.out("ps", "-aq").split()) == 1


def test_interactive_tty_through_a_pty(pallet: Pallet) -> None:
    pid, fd = spawn_in_pty(pallet.argv("run", "-it", "--rm", "busybox", "sh"), pallet.env)
    term = PtyReader(fd)
    assert term.read_until(b"# "), term.out
    os.write(fd, b"tty; echo marker-$((40+2))\r")
    assert term.read_until(b"marker-42"), term.out
    assert b"/dev/pts/0" in term.out
    os.write(fd, b"exit 5\r")
    _, status = os.waitpid(pid, 0)
    os.close(fd)
    assert os.waitstatus_to_exitcode(status) == 5


@pytest.mark.parametrize(("flags", "message"), [
    (["-m", "-5m"], "--memory"),
    (["-m", "1m"], "minimum memory limit allowed is 6MB"),
    (["--cpus", "999"], "--cpus"),
    (["--cap-add", "NOT_A_CAP"], "--cap-add"),
    (["--restart", "sometimes"], "--restart"),
    (["-v", "/proc//x"], "-v/--volume"),
    (["--env-file", "/nonexistent/env"], "--env-file"),
    (["--security-opt", "seccomp=/nonexistent.json"], "seccomp"),
    (["--device-read-bps", "/dev/null:1mb"], "not a block device"),
])
def test_bad_input_exit_125_nothing_created(pallet: Pallet, flags: list[str], message: str) -> None:
    proc = pallet("run", "--name", "bad", *flags, "busybox", "true", check=False)
    assert proc.returncode == 125, proc.stderr
    assert message in proc.stderr
    assert pallet.out("ps", "-aq") == ""
    assert not list((pallet.root / "containers").glob("*/config.json"))


def test_unknown_container_and_command(pallet: Pallet) -> None:
    proc = pallet("stop", "nosuch", check=False)
    assert proc.returncode == 1 and "No such container: nosuch" in proc.stderr
    proc = pallet("run", "--rm", "busybox", "/no/such/binary", check=False)
    assert proc.returncode == 127, proc.stderr
    assert subprocess.run(["true"]).returncode == 0
