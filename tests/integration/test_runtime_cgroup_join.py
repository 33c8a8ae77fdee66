"""On a host without a unified hierarchy (pure v1) the runtime's intermediate joins the container's
v1 cgroups itself (``join_self``: the lock-free move) and the parent writes no pid.  Simulated here
by hiding this hybrid host's unified tree from detection, in a runtime started for the test.  On a
pure v2 host the parent makes the cgroup after the fork and moves the init: simulated by a runtime
whose managers use only this host's cgroup2 tree."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from tests.helpers.oci import Runtime, is_pallet, new_id

import pallet

SRC = str(Path(pallet.__file__).resolve().parent.parent)

# pallet-runtime's main with detect() made blind to the unified hierarchy.
V1_ONLY_RUNTIME = f"""
import sys
sys.path.insert(0, {SRC!r})
import pallet.runtime.cgroups.detect as d
real = d.detect
d.detect = lambda root="/sys/fs/cgroup": d.Layout(real(root).root, real(root).v1, None)
from pallet.runtime.cli import main
sys.argv[0] = "pallet-runtime"
sys.exit(main())
"""


@pytest.mark.skipif(not is_pallet(), reason="pallet-runtime's own cgroup code")
def test_on_a_pure_v1_host_the_intermediate_joins_the_cgroups_itself(
        rt: Runtime, bundle: Callable[..., Path]) -> None:
    def no_cgroupns(c: dict) -> None:  # full paths in /proc/self/cgroup
        c["linux"]["namespaces"] = [n for n in c["linux"]["namespaces"] if n["type"] != "cgroup"]

    b = bundle(["cat", "/proc/self/cgroup"], edit=no_cgroupns)
    config = (b / "config.json").read_text()
    path = config.split('"cgroupsPath": "', 1)[1].split('"', 1)[0]
    out = subprocess.run([sys.executable, "-I", "-S", "-c", V1_ONLY_RUNTIME, "--root", str(rt.root), "run",
                          "--bundle", str(b), new_id()], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    lines = dict(line.split(":", 2)[1:] for line in out.stdout.split())
    v1 = {h: p for h, p in lines.items() if h and h.split(",")[0] in ("cpu", "cpuacct", "memory", "pids", "devices",
                                                                        "freezer", "blkio", "cpuset")}
    assert len(v1) >= 6 and all(p == path for p in v1.values()), lines  # joined by the intermediate
    assert lines[""] != path  # the hidden unified tree: nobody wrote a pid there


@pytest.mark.skipif(not is_pallet(), reason="pallet-runtime's own cgroup code")
def test_on_a_pure_v1_host_the_limits_are_written(rt: Runtime, bundle: Callable[..., Path]) -> None:
    def limits(c: dict) -> None:
        c["linux"].setdefault("resources", {}).update(memory={"limit": 64 << 20}, pids={"limit": 77})

    b = bundle(["cat", "/sys/fs/cgroup/memory/memory.limit_in_bytes", "/sys/fs/cgroup/pids/pids.max"], edit=limits)
    out = subprocess.run([sys.executable, "-I", "-S", "-c", V1_ONLY_RUNTIME, "--root", str(rt.root), "run",
                          "--bundle", str(b), new_id()], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == [str(64 << 20), "77"]


# pallet-runtime's main with every container manager on the cgroup2 tree alone.
V2_ONLY_RUNTIME = f"""
import sys
sys.path.insert(0, {SRC!r})
import pallet.runtime.cgroups as cg
real = cg.new_manager
cg.new_manager = lambda path, cid, root="/sys/fs/cgroup": real(path, cid, root="/sys/fs/cgroup/unified")
from pallet.runtime.cli import main
sys.argv[0] = "pallet-runtime"
sys.exit(main())
"""


@pytest.mark.skipif(not is_pallet(), reason="pallet-runtime's own cgroup code")
@pytest.mark.skipif(not Path("/sys/fs/cgroup/unified/cgroup.controllers").exists(), reason="no cgroup2 tree")
def test_on_a_pure_v2_host_the_init_is_moved_into_its_cgroup(rt: Runtime, bundle: Callable[..., Path]) -> None:
    def no_cgroupns(c: dict) -> None:  # full paths in /proc/self/cgroup
        c["linux"]["namespaces"] = [n for n in c["linux"]["namespaces"] if n["type"] != "cgroup"]

    b = bundle(["cat", "/proc/self/cgroup"], edit=no_cgroupns)
    path = (b / "config.json").read_text().split('"cgroupsPath": "', 1)[1].split('"', 1)[0]
    for _ in range(3):  # the cgroup is made beside the children's work: more than once
        out = subprocess.run([sys.executable, "-I", "-S", "-c", V2_ONLY_RUNTIME, "--root", str(rt.root), "run",
                              "--bundle", str(b), new_id()], capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stderr
        lines = dict(line.split(":", 2)[1:] for line in out.stdout.split())
        assert lines[""] == path, lines
        assert not Path("/sys/fs/cgroup/unified" + path).exists()  # removed by the delete


HYBRID = Path("/sys/fs/cgroup/unified/cgroup.controllers").exists() and Path("/sys/fs/cgroup/memory").is_dir()
# ... whose init is not systemd: there every container joins the cgroup2 tree and name=systemd
PLAIN_HYBRID = HYBRID and not Path("/run/systemd/system").is_dir()


@pytest.mark.skipif(not is_pallet(), reason="pallet-runtime's own cgroup code")
@pytest.mark.skipif(not PLAIN_HYBRID, reason="a hybrid host (v1 controllers and a cgroup2 tree), init not systemd")
def test_on_a_hybrid_host_the_unified_tree_is_joined_only_for_limits_that_live_there(
        rt: Runtime, bundle: Callable[..., Path]) -> None:
    def no_cgroupns(c: dict) -> None:  # full paths in /proc/self/cgroup
        c["linux"]["namespaces"] = [n for n in c["linux"]["namespaces"] if n["type"] != "cgroup"]
        c["linux"].setdefault("resources", {}).update(memory={"limit": 64 << 20}, pids={"limit": 50})

    def with_unified_key(c: dict) -> None:
        no_cgroupns(c)
        c["linux"]["resources"]["unified"] = {"cgroup.max.descendants": "10"}

    mine = dict(line.split(":", 2)[1:] for line in Path("/proc/self/cgroup").read_text().split())
    for edit, joins in ((no_cgroupns, False), (with_unified_key, True)):
        b = bundle(["cat", "/proc/self/cgroup", "/sys/fs/cgroup/memory/memory.limit_in_bytes"], edit=edit)
        path = (b / "config.json").read_text().split('"cgroupsPath": "', 1)[1].split('"', 1)[0]
        out = rt.run("run", "--bundle", str(b), new_id())
        assert out.returncode == 0, out.stderr
        *cgroups, limit = out.stdout.split()
        lines = dict(line.split(":", 2)[1:] for line in cgroups)
        assert lines["memory"] == path and lines["pids"] == path and limit == str(64 << 20)
        if joins:
            assert lines[""] == path  # moved into its cgroup2 cgroup for the key written there
        else:
            assert lines[""] == mine[""]  # v1 limits only: still in the caller's cgroup2 cgroup
        assert not Path("/sys/fs/cgroup/unified" + path).exists()


@pytest.mark.skipif(not is_pallet(), reason="pallet-runtime's own cgroup code")
@pytest.mark.skipif(not PLAIN_HYBRID, reason="a hybrid host (v1 controllers and a cgroup2 tree), init not systemd")
def test_kill_all_and_forced_delete_reach_a_container_outside_the_unified_tree(
        rt: Runtime, bundle: Callable[..., Path]) -> None:
    # No cgroup2 cgroup (so no cgroup.kill): every process is reached through the v1 hierarchies.
    b = bundle(["sh", "-c", "sleep 100 & sleep 100 & wait"])
    cid = new_id()
    assert rt.run_detached("run", "--detach", "--bundle", str(b), cid).returncode == 0
    try:
        path = (b / "config.json").read_text().split('"cgroupsPath": "', 1)[1].split('"', 1)[0]
        assert not Path("/sys/fs/cgroup/unified" + path).exists()
        procs = Path("/sys/fs/cgroup/pids" + path + "/cgroup.procs")
        deadline = time.monotonic() + 10
        while len(procs.read_text().split()) < 3 and time.monotonic() < deadline:
            time.sleep(0.02)
        pids = [int(p) for p in procs.read_text().split()]
        assert len(pids) == 3
        assert rt.run("kill", "--all", cid, "KILL").returncode == 0
        deadline = time.monotonic() + 10
        while procs.read_text().split() and time.monotonic() < deadline:
            time.sleep(0.02)
        assert not procs.read_text().split()  # all three killed
    finally:
        assert rt.run("delete", "--force", cid).returncode == 0
    assert not Path("/sys/fs/cgroup/pids" + path).exists()


@pytest.mark.skipif(not is_pallet(), reason="pallet-runtime's own cgroup mounts")
@pytest.mark.skipif(not PLAIN_HYBRID, reason="a hybrid host (v1 controllers and a cgroup2 tree), init not systemd")
def test_a_container_sees_only_the_hierarchies_it_is_in(rt: Runtime, bundle: Callable[..., Path]) -> None:
    # In its cgroup namespace, a hierarchy it is not in would be rooted at the runtime's own cgroup
    # (here the host's root): the host's tree, from there.
    script = "ls /sys/fs/cgroup; echo --; ls /sys/fs/cgroup/memory | grep -c '^pallet' || true"
    for edit, unified in ((None, False),
                          (lambda c: c["linux"].setdefault("resources", {}).update(
                              unified={"cgroup.max.descendants": "10"}), True)):
        b = bundle(["sh", "-c", script], edit=edit)
        out = rt.run("run", "--bundle", str(b), new_id())
        assert out.returncode == 0, out.stderr
        listed, own = out.stdout.split("--")
        names = set(listed.split())
        assert {"memory", "pids", "cpu", "devices", "freezer"} <= names
        assert "systemd" not in names  # name=systemd: pallet places no container there
        assert ("unified" in names) == unified
        assert own.split() == ["0"]  # its own memory cgroup is its root: no pallet/ cgroups of others


# pallet-runtime's main on a host whose init it takes for systemd.
SYSTEMD_HOST_RUNTIME = f"""
import sys
sys.path.insert(0, {SRC!r})
import pallet.runtime.cgroups.detect as d
d.systemd_booted = lambda run="/run": True
from pallet.runtime.cli import main
sys.argv[0] = "pallet-runtime"
sys.exit(main())
"""


@pytest.mark.skipif(not is_pallet(), reason="pallet-runtime's own cgroup code")
@pytest.mark.skipif(not HYBRID or not Path("/sys/fs/cgroup/systemd/tasks").exists(),
                    reason="a hybrid host with a name=systemd hierarchy")
def test_where_systemd_is_the_init_a_container_joins_its_trees(rt: Runtime, bundle: Callable[..., Path]) -> None:
    def no_cgroupns(c: dict) -> None:  # full paths in /proc/self/cgroup
        c["linux"]["namespaces"] = [n for n in c["linux"]["namespaces"] if n["type"] != "cgroup"]

    b = bundle(["cat", "/proc/self/cgroup"], edit=no_cgroupns)
    path = (b / "config.json").read_text().split('"cgroupsPath": "', 1)[1].split('"', 1)[0]
    out = subprocess.run([sys.executable, "-I", "-S", "-c", SYSTEMD_HOST_RUNTIME, "--root", str(rt.root), "run",
                          "--bundle", str(b), new_id()], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    lines = dict(line.split(":", 2)[1:] for line in out.stdout.split())
    assert lines["name=systemd"] == path and lines[""] == path and lines["memory"] == path
    assert not Path("/sys/fs/cgroup/systemd" + path).exists()  # removed by the delete
    assert not Path("/sys/fs/cgroup/unified" + path).exists()
