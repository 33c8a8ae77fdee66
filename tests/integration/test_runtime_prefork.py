"""The runtime's children: the init forked by the runtime itself where no intermediate is needed
(``direct``), and the intermediate child forked early in create/run, once the config is checked
(process.prefork), where one is (here: a time namespace): handed its Setup over the channel when the
config is good, killed and reaped when the command fails first."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from tests.helpers.oci import Runtime, is_pallet, new_id

pytestmark = pytest.mark.skipif(not is_pallet(), reason="pallet-runtime's own process model")


def _with_intermediate(config: dict[str, Any]) -> None:
    """A config whose init needs an intermediate process (NamespacePlan.runtime_forks_init)."""
    config["linux"]["namespaces"].append({"type": "time"})


def _in_session(sid: int) -> list[int]:
    """Live processes whose session is ``sid`` (zombies that are our children are reaped: pytest is
    a child subreaper)."""
    found = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                stat = Path(f"/proc/{name}/stat").read_text()
            except OSError:
                continue
            fields = stat.rsplit(")", 1)[1].split()
            if int(fields[3]) != sid:
                continue
            if fields[0] == "Z":
                try:
                    os.waitpid(int(name), os.WNOHANG)
                except ChildProcessError:
                    pass
                continue
            found.append(int(name))
    return found


@pytest.mark.parametrize("problem", ["bad json", "no rootfs", "help", "bad id"])
def test_a_create_that_fails_before_its_children_leaves_no_process(
        rt: Runtime, bundle: Callable[..., Path], problem: str) -> None:
    b = bundle(["true"])
    if problem == "bad json":
        (b / "config.json").write_text("{not json")
    elif problem == "no rootfs":  # (the bundle names its rootfs by absolute path)
        config = json.loads((b / "config.json").read_text())
        config["root"]["path"] = str(b / "missing")
        (b / "config.json").write_text(json.dumps(config))
    args = ["create", "--bundle", str(b), "bad/id" if problem == "bad id" else new_id()]
    if problem == "help":
        args.insert(1, "--help")
    proc = subprocess.Popen(rt.cmd(*args), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    _out, err = proc.communicate(timeout=30)
    assert (proc.returncode == 0) == (problem == "help"), err
    assert _in_session(proc.pid) == []  # the early child went with it
    assert not os.listdir(rt.root) if rt.root.exists() else True


def test_a_setup_larger_than_one_datagram_reaches_the_children(rt: Runtime, bundle: Callable[..., Path]) -> None:
    big = "x" * 100_000  # (one string may be up to 128 KiB at execve)
    env = [f"BIG{i}={big}" for i in range(3)]  # the Setup goes over the channel in 60000-byte pieces
    b = bundle(["sh", "-c", 'echo ${#BIG0} ${#BIG1} ${#BIG2}'],
               edit=lambda c: (c["process"]["env"].extend(env), _with_intermediate(c)))
    out = rt.run("run", "--bundle", str(b), new_id())
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["100000"] * 3


def test_the_foreground_run_waits_for_its_init_as_its_subreaper(rt: Runtime, bundle: Callable[..., Path]) -> None:
    # The runtime makes itself the init's subreaper only after it handed the early child its Setup
    # (and before that child exits): the exit code still comes from the init.
    b = bundle(["sh", "-c", "exit 7"], edit=_with_intermediate)
    for _ in range(3):
        out = rt.run("run", "--bundle", str(b), new_id())
        assert out.returncode == 7, out.stderr


# pallet-runtime's main, its early child killed as soon as it is forked.
KILLED_EARLY_CHILD = f"""
import os, sys
sys.path.insert(0, {str(Path(__file__).resolve().parents[2] / "src")!r})
from pallet.runtime.process import prefork
real = prefork.start
def start():
    real()
    os.kill(prefork._waiting.pid, 9)
    os.waitpid(prefork._waiting.pid, 0)
prefork.start = start
from pallet.runtime.cli import main
sys.argv[0] = "pallet-runtime"
sys.exit(main())
"""


def test_a_dead_early_child_is_replaced_by_a_forked_one(rt: Runtime, bundle: Callable[..., Path]) -> None:
    import sys

    b = bundle(["sh", "-c", "echo ran; exit 3"], edit=_with_intermediate)
    out = subprocess.run([sys.executable, "-I", "-S", "-c", KILLED_EARLY_CHILD, "--root", str(rt.root), "run",
                          "--bundle", str(b), new_id()], capture_output=True, text=True, timeout=60)
    assert out.returncode == 3, out.stderr
    assert out.stdout.split() == ["ran"]


# pallet-runtime's main killed by SIGKILL just before it releases the intermediate (with or
# without the early child), or (direct: no intermediate) once it has made the cgroup.
DIES_BEFORE_RELEASE = f"""
import os, sys
sys.path.insert(0, {str(Path(__file__).resolve().parents[2] / "src")!r})
from pallet.runtime.process import parent, prefork
how = sys.argv.pop(1)
if how == "fork":
    prefork.start = lambda: None
parent._release = lambda setup, release: os.kill(os.getpid(), 9)
real_make_cgroup = parent.make_cgroup
def make_cgroup(setup):
    real_make_cgroup(setup)
    if how == "direct":
        os.kill(os.getpid(), 9)
parent.make_cgroup = make_cgroup
from pallet.runtime.cli import main
sys.argv[0] = "pallet-runtime"
sys.exit(main())
"""


@pytest.mark.parametrize("how", ["early", "fork", "direct"])
def test_children_waiting_for_a_runtime_that_died_exit(rt: Runtime, bundle: Callable[..., Path], how: str) -> None:
    import sys
    import time

    b = bundle(["true"], edit=None if how == "direct" else _with_intermediate)
    path = json.loads((b / "config.json").read_text())["linux"]["cgroupsPath"]
    cid = new_id()
    proc = subprocess.Popen([sys.executable, "-I", "-S", "-c", DIES_BEFORE_RELEASE, how, "--root", str(rt.root),
                             "create", "--bundle", str(b), cid],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        assert proc.wait(timeout=30) == -9
        deadline = time.monotonic() + 10
        while _in_session(proc.pid) and time.monotonic() < deadline:
            time.sleep(0.02)
        # the intermediate saw its release pipe close, the init its channel
        assert _in_session(proc.pid) == []
        assert Path("/sys/fs/cgroup/pids" + path).is_dir()  # made before the runtime died
    finally:
        for pid in _in_session(proc.pid):
            os.kill(pid, 9)
        # What the killed runtime left: its state ("creating", with the cgroup) and the cgroup.
        assert rt.run("delete", "--force", cid).returncode == 0
    assert not Path("/sys/fs/cgroup/pids" + path).exists()


# create in this process (as the engine's in-process runtime does), then what the init's parent is
# and whether this process's own children would still be born in its PID namespace.
IN_PROCESS_CREATE = f"""
import json, os, sys
sys.path.insert(0, {str(Path(__file__).resolve().parents[2] / "src")!r})
from pallet.runtime import lifecycle
root, cid, bundle = sys.argv[1:4]
_container, started = lifecycle.create(root, cid, bundle)
try:
    with open(f"/proc/{{started.pid}}/stat") as f:
        ppid = int(f.read().rsplit(")", 1)[1].split()[1])
    same = os.readlink("/proc/self/ns/pid_for_children") == os.readlink("/proc/self/ns/pid")
    print(json.dumps({{"init_is_our_child": ppid == os.getpid(), "children_in_our_pidns": same}}))
finally:
    lifecycle.delete(root, cid, force=True)
"""


@pytest.mark.parametrize("intermediate", [False, True])
def test_the_runtime_forks_the_init_itself_where_no_intermediate_is_needed(
        rt: Runtime, bundle: Callable[..., Path], intermediate: bool) -> None:
    import sys

    b = bundle(["true"], edit=_with_intermediate if intermediate else None)
    out = subprocess.run([sys.executable, "-I", "-S", "-c", IN_PROCESS_CREATE, str(rt.root), new_id(), str(b)],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    # Direct: the init is our child (no intermediate in between), and we left its PID namespace
    # for our own later children (hooks, the next container).
    assert json.loads(out.stdout) == {"init_is_our_child": not intermediate, "children_in_our_pidns": True}
