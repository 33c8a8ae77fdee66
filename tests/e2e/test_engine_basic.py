"""The vertical slice: busybox image -> run -> ps -> logs -> stop -> rm -> inspect, in temp roots."""

from __future__ import annotations

import time
from pathlib import Path

from tests.helpers.cli import Pallet


def test_run_foreground_output_and_exit_code(pallet: Pallet) -> None:
    proc = pallet("run", "--rm", "busybox", "sh", "-c", "echo out; echo err >&2; exit 3", check=False)
    assert proc.returncode == 3
    assert proc.stdout == "out\n"
    assert proc.stderr == "err\n"
    assert pallet.out("ps", "-aq") == ""


def test_detached_lifecycle(pallet: Pallet) -> None:
    cid = pallet.out("run", "-d", "--name", "web", "busybox", "sh", "-c", "echo hello; exec sleep 60")
    assert len(cid) == 64
    ps = pallet.out("ps")
    lines = ps.splitlines()
    assert lines[0].split() == ["CONTAINER", "ID", "IMAGE", "COMMAND", "CREATED", "STATUS", "PORTS", "NAMES"]
    assert cid[:12] in lines[1] and "web" in lines[1] and "Up " in lines[1]
    for _ in range(50):
        if pallet.out("logs", "web") == "hello":
            break
        time.sleep(0.05)
    assert pallet.out("logs", "web") == "hello"
    doc = pallet.inspect("web")
    assert doc["State"]["Running"] is True and doc["State"]["Pid"] > 0
    assert doc["Name"] == "/web"
    assert Path(f"/proc/{doc['State']['Pid']}").exists()
    assert pallet.out("inspect", "-f", "{{.State.Status}}", "web") == "running"
    start = time.monotonic()
    pallet("stop", "-t", "1", "web")  # sleep as PID 1 ignores SIGTERM: the timeout, then SIGKILL
    assert 0.9 < time.monotonic() - start < 8
    doc = pallet.inspect("web")
    assert doc["State"]["Status"] == "exited" and doc["State"]["ExitCode"] == 137
    assert not Path(f"/proc/{cid}").exists()
    assert pallet.out("ps", "-q") == ""
    assert pallet.out("ps", "-aq") == cid[:12]
    pallet("rm", "web")
    proc = pallet("inspect", "web", check=False)
    assert proc.returncode == 1 and "No such object: web" in proc.stderr
