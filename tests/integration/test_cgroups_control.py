"""Devices (v1 rules, v2 eBPF), freezer, kill and reuse refusal, on the real kernel.

The v2 paths run live on this hybrid host's cgroup2 tree (/sys/fs/cgroup/unified).
"""

from __future__ import annotations

import errno
import mmap
import os
import signal
import struct
import time
from collections.abc import Callable

import pytest
import test_cgroups_support as support
from test_cgroups_support import UNIFIED, Child, say

from pallet.errors import ConflictError
from pallet.runtime.cgroups import CgroupManager, container_device_rules
from pallet.runtime.cgroups.v2 import V2Manager

cgroups = support.cgroups  # fixtures
children = support.children
Make = Callable[..., CgroupManager]
Start = Callable[[Callable[[], int | None]], Child]

needs_unified = pytest.mark.skipif(
    not os.path.exists(os.path.join(UNIFIED, "cgroup.controllers")), reason="no cgroup2 tree at " + UNIFIED
)


def _root_disk() -> str:
    for name in ("/dev/vda", "/dev/sda", "/dev/nvme0n1"):
        if os.path.exists(name):
            return name
    pytest.skip("no block device node to open")


def _try_opens(paths: list[str]) -> int:
    out = []
    for p in paths:
        try:
            os.close(os.open(p, os.O_RDONLY))
            out.append(f"{p}=ok")
        except OSError as e:
            out.append(f"{p}={errno.errorcode.get(e.errno or 0, e.errno)}")
    say(" ".join(out))
    return 0


@pytest.mark.parametrize("root", ["/sys/fs/cgroup", pytest.param(UNIFIED, marks=needs_unified)])
def test_device_rules_deny_and_allow(cgroups: Make, children: Start, root: str) -> None:
    disk = _root_disk()
    m = cgroups(root=root)
    assert (m.version == 2) == (root == UNIFIED)  # the unified tree: the eBPF program
    m.create()
    c = children(lambda: _try_opens(["/dev/null", "/dev/urandom", disk, "/dev/kmsg"]))
    m.add(c.pid)
    m.set({"devices": container_device_rules([{"allow": True, "type": "c", "major": 1, "minor": 11, "access": "r"}])})
    c.release()
    assert c.read_line() == f"/dev/null=ok /dev/urandom=ok {disk}=EPERM /dev/kmsg=ok"
    assert c.wait() == 0
    # An update replaces the rules (on v2: the old program is detached).
    m.set({"devices": container_device_rules(None)})
    c2 = children(lambda: _try_opens(["/dev/null", "/dev/kmsg"]))
    m.add(c2.pid)
    c2.release()
    assert c2.read_line() == "/dev/null=ok /dev/kmsg=EPERM"
    if isinstance(m, V2Manager):
        from pallet._linux.bpf import prog_query

        fd = os.open(m.dir, os.O_RDONLY | os.O_DIRECTORY)
        try:
            assert len(prog_query(fd)) == 1
        finally:
            os.close(fd)


def _counter() -> tuple[mmap.mmap, Callable[[], int | None]]:
    shared = mmap.mmap(-1, 8)

    def count() -> int:
        n = 0
        while True:
            n += 1
            shared[0:8] = struct.pack("<Q", n)

    return shared, count


def _value(shared: mmap.mmap) -> int:
    return int(struct.unpack("<Q", shared[0:8])[0])


@pytest.mark.parametrize("root", ["/sys/fs/cgroup", pytest.param(UNIFIED, marks=needs_unified)])
def test_freeze_stops_a_counter_and_thaw_restarts_it(cgroups: Make, children: Start, root: str) -> None:
    m = cgroups(root=root)
    m.create()
    shared, count = _counter()
    c = children(count)
    m.add(c.pid)
    c.release()
    time.sleep(0.1)
    assert _value(shared) > 0
    m.freeze()
    assert m.is_frozen()
    v1 = _value(shared)
    time.sleep(0.3)
    assert _value(shared) == v1
    m.thaw()
    assert not m.is_frozen()
    time.sleep(0.2)
    assert _value(shared) > v1
    # A frozen cgroup is still destroyed: its processes are killed and it is removed.
    m.freeze()
    m.destroy()
    assert os.WTERMSIG(c.wait()) == signal.SIGKILL
    assert not m.exists()


@pytest.mark.parametrize("root", ["/sys/fs/cgroup", pytest.param(UNIFIED, marks=needs_unified)])
def test_signal_all(cgroups: Make, children: Start, root: str) -> None:
    m = cgroups(root=root)
    m.create()
    procs = [children(lambda: time.sleep(30) or 0) for _ in range(3)]
    for c in procs:
        m.add(c.pid)
        c.release()
    assert m.pids() == sorted(c.pid for c in procs)
    m.signal_all(signal.SIGTERM)
    assert [os.WTERMSIG(c.wait()) for c in procs] == [signal.SIGTERM] * 3
    more = [children(lambda: time.sleep(30) or 0) for _ in range(2)]
    for c in more:
        m.add(c.pid)
    m.signal_all(signal.SIGKILL)  # cgroup.kill where there is a cgroup2 tree
    assert [os.WTERMSIG(c.wait()) for c in more] == [signal.SIGKILL] * 2
    assert m.pids() == []


def test_create_refuses_busy_or_frozen_cgroup(cgroups: Make, children: Start) -> None:
    m = cgroups()
    m.create()
    c = children(lambda: time.sleep(30) or 0)
    m.add(c.pid)
    other = cgroups(name=os.path.basename(m.path))
    with pytest.raises(ConflictError, match=rf"has processes \({c.pid}\)"):
        other.create()
    m.signal_all(signal.SIGKILL)
    c.wait()
    m.freeze()
    with pytest.raises(ConflictError, match="is frozen"):
        other.create()
    m.thaw()
    other.create()  # empty and thawed: reused
    assert other.paths() == m.paths()


@pytest.mark.parametrize("root", ["/sys/fs/cgroup", pytest.param(UNIFIED, marks=needs_unified)])
def test_destroy_removes_cgroups_made_inside(cgroups: Make, children: Start, root: str) -> None:
    # What a container made below its own cgroup (through its cgroup namespace) goes too, and a
    # process in there is killed first.
    m = cgroups(root=root)
    m.create()
    inner = []
    for name, d in m.paths().items():
        if os.path.isdir(os.path.join(d, "a")):
            continue  # cpu and cpuacct share a hierarchy
        os.makedirs(os.path.join(d, "a", "b"))
        os.mkdir(os.path.join(d, "c"))
        if name != "cpuset":  # a new v1 cpuset cgroup has no CPUs to run on
            inner.append(os.path.join(d, "a", "b"))
    c = children(lambda: time.sleep(30) or 0)
    for d in inner:
        with open(os.path.join(d, "cgroup.procs"), "w") as f:
            f.write(str(c.pid))
    assert m.pids() == [c.pid]
    m.destroy()
    assert os.WTERMSIG(c.wait()) == signal.SIGKILL
    for d in m.paths().values():
        assert not os.path.exists(d), d


def test_destroy_removes_every_level_it_made(cgroups: Make, children: Start) -> None:
    from tests.helpers.leaks import TEST_CGROUP_PARENT

    from pallet.runtime.cgroups import load_manager, new_manager

    m = new_manager(f"/{TEST_CGROUP_PARENT}/lvl-{os.getpid()}/a/b", "b")
    m.create()
    c = children(lambda: time.sleep(30) or 0)
    m.add(c.pid)
    again = load_manager(m.to_dict())  # as `delete` does, from the saved state
    again.destroy()
    assert os.WTERMSIG(c.wait()) == signal.SIGKILL
    for d in m.paths().values():
        assert not os.path.exists(os.path.dirname(os.path.dirname(d)))
