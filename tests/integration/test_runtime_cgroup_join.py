"""On a host without a unified hierarchy (pure v1) the runtime's intermediate joins the container's
v1 cgroups itself (``join_self``: the lock-free move) and the parent writes no pid.  Simulated here
by hiding this hybrid host's unified tree from detection, in a runtime started for the test.  On a
pure v2 host the parent makes the cgroup after the fork and moves the init: simulated by a runtime
whose managers use only this host's cgroup2 tree."""

from __future__ import annotations

import subprocess
import sys
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
