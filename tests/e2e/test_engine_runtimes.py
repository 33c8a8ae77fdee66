"""The engine's two runtime drivers: in-process pallet.runtime (the default) and an external binary."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from tests.helpers.cli import Pallet
from tests.helpers.terminal import PtyReader, spawn_in_pty


def _comm(pid: int) -> str:
    return Path(f"/proc/{pid}/comm").read_text().strip()


def _ppid(pid: int) -> int:
    stat = Path(f"/proc/{pid}/stat").read_text()
    return int(stat[stat.rindex(")") + 2:].split()[1])


def test_default_runtime_is_in_process(pallet: Pallet) -> None:
    cid = pallet.out("run", "-d", "busybox", "sleep", "60")
    doc = pallet.inspect(cid)
    assert doc["HostConfig"]["Runtime"] == "pallet"
    pid = doc["State"]["Pid"]
    # No runtime process in between: the container's init is the supervisor's own child.
    assert _comm(_ppid(pid)) == "pallet-monitor"
    state_dir = pallet.runroot / "runtime" / "pallet" / cid
    assert (state_dir / "state.json").exists()
    # The state is pallet-runtime's own format: the runtime's CLI reads it.
    runtime = Path(sys.executable).with_name("pallet-runtime")
    out = subprocess.run([str(runtime), "--root", str(pallet.runroot / "runtime" / "pallet"), "state", cid],
                         capture_output=True, text=True, check=True).stdout
    assert json.loads(out)["status"] == "running" and json.loads(out)["pid"] == pid
    pallet("rm", "-f", cid)
    assert not state_dir.exists()


@pytest.mark.parametrize("runtime", ["runc", "pallet-runtime"])
def test_external_runtime_still_works(pallet: Pallet, runtime: str) -> None:
    proc = pallet("run", "--rm", "--runtime", runtime, "busybox", "sh", "-c", "echo out; exit 4", check=False)
    assert (proc.returncode, proc.stdout) == (4, "out\n"), proc.stderr
    cid = pallet.out("run", "-d", "--runtime", runtime, "busybox", "sleep", "60")
    assert pallet.out("exec", cid, "sh", "-c", "echo $((6*7))") == "42"
    assert (pallet.runroot / "runtime" / runtime / cid).is_dir()
    pallet("rm", "-f", cid)


def test_unknown_runtime_names_it(pallet: Pallet) -> None:
    proc = pallet("run", "--rm", "--runtime", "nosuch-rt", "busybox", "true", check=False)
    assert proc.returncode == 125
    assert "nosuch-rt" in proc.stderr and "--runtime" in proc.stderr
    assert pallet.out("ps", "-aq") == ""


def test_exec_in_process_codes_stdin_and_detach(pallet: Pallet) -> None:
    cid = pallet.out("run", "-d", "busybox", "sleep", "60")
    assert pallet("exec", cid, "sh", "-c", "exit 7", check=False).returncode == 7
    proc = pallet("exec", cid, "/no/such/binary", check=False)
    assert proc.returncode == 127 and "/no/such/binary" in proc.stderr
    # Without -i the process reads nothing; with -i it reads our stdin.
    assert pallet("exec", cid, "cat", input="ignored").stdout == ""
    assert pallet("exec", "-i", cid, "cat", input="piped\n").stdout == "piped\n"
    pallet("exec", "-d", cid, "sh", "-c", "echo detached > /tmp/mark")
    for _ in range(100):
        if pallet("exec", cid, "cat", "/tmp/mark", check=False).stdout == "detached\n":
            break
        time.sleep(0.02)
    assert pallet.out("exec", cid, "cat", "/tmp/mark") == "detached"
    # The exec'd processes ran as the container's: same capabilities as its init.
    assert pallet.out("exec", cid, "grep", "CapEff", "/proc/self/status").split()[1] == "00000000a80425fb"
    pallet("rm", "-f", cid)


def test_exec_tty_in_process(pallet: Pallet) -> None:
    cid = pallet.out("run", "-d", "busybox", "sleep", "60")
    pid, fd = spawn_in_pty(pallet.argv("exec", "-it", cid, "sh"), pallet.env)
    term = PtyReader(fd)
    try:
        assert term.read_until(b"# "), term.out
        os.write(fd, b"tty; echo marker-$((40+2)); exit 5\r")
        assert term.read_until(b"marker-42"), term.out
        assert b"/dev/pts/" in term.out
    finally:
        _, status = os.waitpid(pid, 0)
        os.close(fd)
    assert os.waitstatus_to_exitcode(status) == 5
    pallet("rm", "-f", cid)
