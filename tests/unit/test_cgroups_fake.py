"""Cgroup managers against fake cgroup trees in tmp dirs: detection, checks, writes, stats."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from pallet.errors import ConfigError, ConflictError, StateError
from pallet.runtime.cgroups import load_manager, new_manager
from pallet.runtime.cgroups.detect import detect
from pallet.runtime.cgroups.v1 import V1Manager
from pallet.runtime.cgroups.v2 import V2Manager

V1_CTRLS = ("cpu", "cpuacct", "cpuset", "memory", "devices", "freezer", "blkio", "pids")


def put(d: Path, files: dict[str, str]) -> None:
    d.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (d / name).write_text(text)


def fake_hybrid(root: Path, hugetlb_on_v2: bool = True) -> Path:
    for c in V1_CTRLS:
        put(root / c, {"cgroup.procs": ""})
    put(root / "systemd", {"cgroup.procs": ""})
    put(root / "cpuset", {"cpuset.cpus": "0-1\n", "cpuset.mems": "0\n", "cpuset.effective_cpus": "0-1\n",
                          "cpuset.effective_mems": "0\n"})
    put(root / "memory", {"memory.memsw.limit_in_bytes": "9223372036854771712\n"})
    put(root / "cpu", {"cpu.rt_runtime_us": "950000\n"})
    put(root / "unified", {"cgroup.controllers": "hugetlb\n" if hugetlb_on_v2 else "\n",
                           "cgroup.subtree_control": "\n"})
    return root


LEAF_V1 = {
    "cpu": {"cpu.shares": "1024", "cpu.cfs_quota_us": "-1", "cpu.cfs_period_us": "100000", "cpu.idle": "0",
            "cpu.rt_runtime_us": "0", "cpu.rt_period_us": "1000000", "cpu.cfs_burst_us": "0"},
    "cpuset": {"cpuset.cpus": "", "cpuset.mems": ""},
    "memory": {"memory.limit_in_bytes": "9223372036854771712", "memory.memsw.limit_in_bytes": "9223372036854771712",
               "memory.soft_limit_in_bytes": "9223372036854771712", "memory.swappiness": "60",
               "memory.oom_control": "oom_kill_disable 0\nunder_oom 0\noom_kill 3\n"},
    "devices": {"devices.allow": "", "devices.deny": ""},
    "freezer": {"freezer.state": "THAWED\n"},
    "blkio": {"blkio.bfq.weight": "100", "blkio.bfq.weight_device": "", "blkio.throttle.write_bps_device": "",
              "blkio.throttle.read_bps_device": "", "blkio.throttle.read_iops_device": "",
              "blkio.throttle.write_iops_device": ""},
    "pids": {"pids.max": "max"},
    "cpuacct": {},
}


def fake_v1_leaf(root: Path, rel: str) -> None:
    for c, files in LEAF_V1.items():
        for part in range(1, rel.count("/") + 1):
            sub = "/".join(rel.strip("/").split("/")[:part])
            put(root / c / sub, {"cgroup.procs": "", **({"cpuset.cpus": "", "cpuset.mems": ""} if c == "cpuset" else {})})
        put(root / c / rel.strip("/"), {"cgroup.procs": "", "tasks": "", **files})
    put(root / "unified" / rel.strip("/"), {"cgroup.procs": "", "cgroup.controllers": ""})


def test_detect_layouts(tmp_path: Path) -> None:
    hy = detect(str(fake_hybrid(tmp_path / "hy")))
    assert hy.mode == "hybrid"
    assert set(hy.v1) == set(V1_CTRLS)
    assert hy.unified == str(tmp_path / "hy" / "unified")

    v1 = tmp_path / "v1"
    put(v1 / "cpu,cpuacct", {"cgroup.procs": ""})
    put(v1 / "memory", {"cgroup.procs": ""})
    os.symlink("cpu,cpuacct", v1 / "cpu")
    os.symlink("cpu,cpuacct", v1 / "cpuacct")
    lay = detect(str(v1))
    assert lay.mode == "v1"
    assert new_manager(None, "abc", root=str(v1)).self_joins  # no unified tree: joins by itself
    assert lay.v1 == {"cpu": str(v1 / "cpu,cpuacct"), "cpuacct": str(v1 / "cpu,cpuacct"), "memory": str(v1 / "memory")}

    v2 = tmp_path / "v2"
    put(v2, {"cgroup.controllers": "cpu memory\n"})
    assert detect(str(v2)).mode == "v2"
    assert isinstance(new_manager(None, "abc", root=str(v2)), V2Manager)


def test_v1_create_add_set_destroy(tmp_path: Path) -> None:
    root = fake_hybrid(tmp_path / "cg")
    fake_v1_leaf(root, "/p/c1")
    m = new_manager("/p/c1", "c1", root=str(root))
    assert isinstance(m, V1Manager) and m.version == 1
    assert m.paths()["memory"] == str(root / "memory/p/c1")
    assert m.paths()[""] == str(root / "unified/p/c1")
    m.create()
    # v1 cpuset: the new cgroup got its parent's CPUs and nodes, every level down.
    assert (root / "cpuset/p/cpuset.cpus").read_text() == "0-1"
    assert (root / "cpuset/p/c1/cpuset.mems").read_text() == "0"
    m.add(4242)
    assert (root / "pids/p/c1/cgroup.procs").read_text() == "4242"
    assert (root / "unified/p/c1/cgroup.procs").read_text() == "4242"
    # join_self: "0" (the caller) to tasks of every v1 hierarchy, none to the unified tree; the
    # runtime uses it only where there is no unified tree (a pid must be written there).
    assert not m.self_joins
    m.join_self()
    for c in V1_CTRLS:
        assert (root / c / "p/c1/tasks").read_text() == "0", c
    assert not (root / "unified/p/c1/tasks").exists()
    resources = {
        "memory": {"limit": 64 << 20, "swap": 128 << 20, "reservation": 32 << 20, "swappiness": 10,
                   "disableOOMKiller": True},
        "cpu": {"shares": 512, "quota": 50000, "period": 100000, "cpus": "1", "mems": "0"},
        "pids": {"limit": 32},
        "blockIO": {"weight": 300, "weightDevice": [{"major": 254, "minor": 0, "weight": 200}],
                    "throttleWriteBpsDevice": [{"major": 254, "minor": 0, "rate": 1048576}]},
        "devices": [{"allow": False, "access": "rwm"}, {"allow": True, "type": "c", "major": 1, "minor": 3, "access": "rwm"}],
    }
    m.check(resources)
    m.set(resources)
    leaf = lambda c, f: (root / c / "p/c1" / f).read_text()  # noqa: E731
    assert leaf("memory", "memory.limit_in_bytes") == str(64 << 20)
    assert leaf("memory", "memory.memsw.limit_in_bytes") == str(128 << 20)
    assert leaf("memory", "memory.soft_limit_in_bytes") == str(32 << 20)
    assert leaf("memory", "memory.swappiness") == "10"
    assert leaf("memory", "memory.oom_control") == "1"
    assert leaf("cpu", "cpu.shares") == "512"
    assert leaf("cpu", "cpu.cfs_quota_us") == "50000"
    assert leaf("cpuset", "cpuset.cpus") == "1"
    assert leaf("pids", "pids.max") == "32"
    assert leaf("blkio", "blkio.bfq.weight") == "300"
    assert leaf("blkio", "blkio.bfq.weight_device") == "254:0 200"
    assert leaf("blkio", "blkio.throttle.write_bps_device") == "254:0 1048576"
    assert leaf("devices", "devices.allow") == "c 1:3 rwm"  # the last write of each file
    assert leaf("devices", "devices.deny") == "a"
    m.set({"pids": {"limit": -1}, "cpu": {"quota": -1}})
    assert leaf("pids", "pids.max") == "max"
    assert leaf("cpu", "cpu.cfs_quota_us") == "-1"
    (root / "memory/p/c1/memory.oom_control").write_text("oom_kill_disable 1\nunder_oom 0\noom_kill 3\n")
    assert m.oom_kill_count() == 3
    assert m.pids() == [4242]

    saved = m.to_dict()
    again = load_manager(saved)
    assert isinstance(again, V1Manager) and again.paths() == m.paths() and again.created == m.created

    # A fake tree cannot kill, so empty it first; destroy removes the leaf in every hierarchy.
    for d in m.paths().values():
        for f in os.listdir(d):
            os.unlink(os.path.join(d, f))
    m.destroy()
    assert not m.exists()
    assert (root / "memory" / "p").is_dir()  # not made by this manager: left alone


def test_v1_refuses_busy_or_frozen(tmp_path: Path) -> None:
    root = fake_hybrid(tmp_path / "cg")
    fake_v1_leaf(root, "/p/c1")
    (root / "pids/p/c1/cgroup.procs").write_text("77\n")
    with pytest.raises(ConflictError, match=r"already exists and has processes \(77\)"):
        new_manager("/p/c1", "c1", root=str(root)).create()
    (root / "pids/p/c1/cgroup.procs").write_text("")
    (root / "freezer/p/c1/freezer.state").write_text("FROZEN\n")
    with pytest.raises(ConflictError, match="is frozen"):
        new_manager("/p/c1", "c1", root=str(root)).create()


def test_v1_hugetlb_on_unified(tmp_path: Path) -> None:
    root = fake_hybrid(tmp_path / "cg")
    fake_v1_leaf(root, "/c1")
    m = new_manager("/c1", "c1", root=str(root))
    assert "hugetlb" in m.available()
    m.create()
    put(root / "unified/c1", {"hugetlb.2MB.max": "max"})
    if "2MB" not in __import__("pallet.runtime.cgroups.convert", fromlist=["x"]).host_page_sizes():
        pytest.skip("no 2MB huge pages on this host")
    m.set({"hugepageLimits": [{"pageSize": "2MB", "limit": 4 << 20}]})
    # hugetlb is bound to cgroup2 here: enabled from the root down, written in the unified cgroup.
    assert (root / "unified/cgroup.subtree_control").read_text() == "+hugetlb"
    assert (root / "unified/c1/hugetlb.2MB.max").read_text() == str(4 << 20)
    assert m.to_dict()["enabled"] == [[str(root / "unified"), "hugetlb"]]
    # Moved to v1 (no longer offered by cgroup2): the check says the host lacks it.
    (root / "unified/cgroup.controllers").write_text("\n")
    with pytest.raises(ConfigError, match="needs the hugetlb cgroup controller"):
        m.check({"hugepageLimits": [{"pageSize": "2MB", "limit": 1}]})


BAD_INPUT = [
    ({"memory": {"limit": 4 << 20}}, r"memory.limit 4194304 is below the minimum .* \(6 MiB\)"),
    ({"memory": {"limit": 64 << 20, "swap": 32 << 20}}, r"memory.swap 33554432 is below memory.limit 67108864"),
    ({"memory": {"swappiness": 101}}, r"memory.swappiness 101 .* from 0 to 100"),
    ({"memory": {"reservation": 128 << 20, "limit": 64 << 20}}, r"reservation .* above memory.limit"),
    ({"memory": {"limit": "lots"}}, r"memory.limit 'lots' is not a number"),
    ({"cpu": {"cpus": "0-7"}}, r"cpu.cpus '0-7' names CPUs that this host does not have \(2-7\): allowed 0-1"),
    ({"cpu": {"mems": "3"}}, r"cpu.mems '3' names memory nodes .* \(3\): allowed 0"),
    ({"cpu": {"cpus": "zero"}}, r"cpu.cpus 'zero' is not a list"),
    ({"cpu": {"quota": 300000, "period": 100000}}, r"asks for 3.00 CPUs; this host has 2"),
    ({"cpu": {"quota": 10}}, r"cpu.quota 10 .* at least 1000"),
    ({"cpu": {"period": 10}}, r"cpu.period 10 .* from 1000 to 1000000"),
    ({"cpu": {"shares": 1 << 20}}, r"cpu.shares 1048576 .* from 2 to 262144"),
    ({"pids": {"limit": 0}}, r"pids.limit 0 is not allowed"),
    ({"blockIO": {"weight": 5}}, r"blockIO.weight 5 .* from 10 to 1000"),
    ({"blockIO": {"weightDevice": [{"major": 254, "minor": 0, "weight": 2000}]}}, r"weightDevice\[0\].weight 2000"),
    ({"blockIO": {"throttleWriteBpsDevice": [{"major": 1, "minor": 3, "rate": 1}]}},
     r"throttleWriteBpsDevice\[0\] 1:3 is not a block device"),
    ({"hugepageLimits": [{"pageSize": "3MB", "limit": 1}]}, r"pageSize '3MB' is not a huge page size"),
    ({"network": {"classID": 5}}, r"network.classID needs the net_cls cgroup controller"),
    ({"devices": [{"allow": True, "type": "z"}]}, r"devices\[0\].type 'z'"),
    ({"unified": {"memory.high": "1G"}}, r"unified key 'memory.high' needs the memory controller"),
    ({"unified": {"cgroup.procs": "1"}}, r"managed by the runtime"),
]


@pytest.mark.parametrize(("resources", "message"), BAD_INPUT)
def test_check_bad_input_v1(tmp_path: Path, resources: dict[str, object], message: str) -> None:
    root = fake_hybrid(tmp_path / "cg")
    m = new_manager("/p/c1", "c1", root=str(root))
    with pytest.raises(ConfigError, match=message) as info:
        m.check(resources)
    assert "linux.resources" in str(info.value)
    assert not m.exists()  # check creates nothing


def fake_v2(root: Path) -> Path:
    put(root, {"cgroup.controllers": "cpuset cpu io memory pids hugetlb\n", "cgroup.subtree_control": "cpu memory pids\n",
               "cpuset.cpus.effective": "0-1\n", "cpuset.mems.effective": "0\n", "cgroup.procs": ""})
    return root


V2_LEAF = {
    "cgroup.procs": "", "cgroup.controllers": "cpuset cpu io memory pids hugetlb", "cgroup.freeze": "0",
    "memory.max": "max", "memory.swap.max": "max", "memory.low": "0", "cpu.weight": "100", "cpu.max": "max 100000",
    "cpu.max.burst": "0", "cpu.idle": "0", "cpuset.cpus": "", "cpuset.mems": "", "io.max": "", "io.weight": "default 100",
    "pids.max": "max", "hugetlb.2MB.max": "max", "memory.current": "0",
    "memory.events": "low 0\nhigh 0\nmax 4\noom 2\noom_kill 2\noom_group_kill 0\n",
}


def test_v2_create_enables_delegated_controllers(tmp_path: Path) -> None:
    root = fake_v2(tmp_path / "cg")
    put(root / "p", {"cgroup.controllers": "cpu memory pids\n", "cgroup.subtree_control": "", "cgroup.procs": ""})
    m = new_manager("/p/c", "c", root=str(root))
    assert isinstance(m, V2Manager) and m.version == 2 and m.paths() == {"": str(root / "p/c")}
    m.create()
    assert (root / "p/cgroup.subtree_control").read_text() == "+cpu +memory +pids"
    assert (root / "cgroup.subtree_control").read_text() == "cpu memory pids\n"  # the root is the host's
    assert m.created == [str(root / "p/c")]
    os.rmdir(root / "p/c")


def test_v2_set(tmp_path: Path) -> None:
    root = fake_v2(tmp_path / "cg")
    put(root / "c", V2_LEAF)
    m = new_manager("/c", "c", root=str(root))
    m.create()
    resources = {
        "memory": {"limit": 64 << 20, "swap": 96 << 20, "reservation": 16 << 20},
        "cpu": {"shares": 1024, "quota": 50000, "cpus": "0", "mems": "0", "burst": 1000, "idle": 1},
        "pids": {"limit": 32},
        "blockIO": {"weight": 1000,
                    "throttleWriteBpsDevice": [{"major": 254, "minor": 0, "rate": 1048576}],
                    "throttleReadIOPSDevice": [{"major": 254, "minor": 0, "rate": 100}]},
        "unified": {"memory.high": "50000000"},
    }
    put(root / "c", {"memory.high": "max"})
    m.check(resources)
    m.set(resources)
    f = lambda name: (root / "c" / name).read_text()  # noqa: E731
    assert f("memory.max") == str(64 << 20)
    assert f("memory.swap.max") == str(32 << 20)
    assert f("memory.low") == str(16 << 20)
    assert f("cpu.weight") == "39"
    assert f("cpu.max") == "50000 100000"
    assert f("cpu.max.burst") == "1000"
    assert f("cpu.idle") == "1"
    assert f("cpuset.cpus") == "0"
    assert f("pids.max") == "32"
    assert f("io.weight") == "default 10000"
    assert f("io.max") == "254:0 wbps=1048576 riops=100"
    assert f("memory.high") == "50000000"
    # An update of the period alone keeps the quota.
    m.set({"cpu": {"period": 200000}, "memory": {"limit": -1, "swap": -1}})
    assert f("cpu.max") == "50000 200000"
    assert f("memory.max") == "max" and f("memory.swap.max") == "max"
    assert m.oom_kill_count() == 2
    with pytest.raises(ConfigError, match="realtime"):
        m.check({"cpu": {"realtimeRuntime": 1000}})
    with pytest.raises(ConfigError, match=r"needs memory\.limit too on cgroup v2"):
        m.check({"memory": {"swap": 1 << 30}})
    with pytest.raises(ConfigError, match="net_cls"):
        m.check({"network": {"classID": 1}})
    st = m.stats()
    assert st.memory.failcnt == 4 and st.memory.oom_kills == 2
    assert isinstance(load_manager(m.to_dict()), V2Manager)
    with pytest.raises(StateError):
        load_manager({"version": 9})


def test_stats_v1_and_v2_parse(tmp_path: Path) -> None:
    from pallet.runtime.cgroups.stats import stats_v1, stats_v2

    d = tmp_path / "v1"
    put(d / "cpuacct", {"cpuacct.usage": "5000", "cpuacct.usage_percpu": "3000 2000 \n", "cpuacct.usage_user": "4000",
                        "cpuacct.usage_sys": "1000"})
    put(d / "cpu", {"cpu.stat": "nr_periods 10\nnr_throttled 4\nthrottled_time 777\n"})
    put(d / "memory", {"memory.usage_in_bytes": "1000000", "memory.limit_in_bytes": "9223372036854771712",
                       "memory.max_usage_in_bytes": "2000000", "memory.failcnt": "3",
                       "memory.memsw.usage_in_bytes": "1500000",
                       "memory.stat": "cache 1\nrss 2\ntotal_cache 300000\ntotal_rss 600000\ntotal_inactive_file 250000\n",
                       "memory.oom_control": "oom_kill_disable 0\nunder_oom 0\noom_kill 1\n"})
    put(d / "pids", {"pids.current": "5", "pids.max": "32"})
    put(d / "blkio", {"blkio.throttle.io_service_bytes_recursive": "254:0 Read 10\n254:0 Write 20\nTotal 30\n",
                      "blkio.throttle.io_serviced_recursive": "254:0 Read 1\n254:0 Write 2\nTotal 3\n"})
    put(d / "hugetlb", {"hugetlb.2MB.usage_in_bytes": "4", "hugetlb.2MB.max_usage_in_bytes": "8", "hugetlb.2MB.failcnt": "1"})
    dirs = {c: str(d / c) for c in ("cpuacct", "cpu", "memory", "pids", "blkio")}
    s = stats_v1(dirs, (str(d / "hugetlb"), 1))
    assert (s.cpu.usage_total, s.cpu.per_cpu, s.cpu.user, s.cpu.system) == (5000, [3000, 2000], 4000, 1000)
    assert (s.cpu.periods, s.cpu.throttled_periods, s.cpu.throttled_time) == (10, 4, 777)
    m = s.memory
    assert (m.usage, m.limit, m.max_usage, m.failcnt, m.cache, m.rss) == (1000000, None, 2000000, 3, 300000, 600000)
    assert m.working_set == 750000 and m.swap_usage == 500000 and m.oom_kills == 1
    assert (s.pids.current, s.pids.limit) == (5, 32)
    assert [(e.op, e.value) for e in s.blkio.io_service_bytes] == [("Read", 10), ("Write", 20)]
    assert s.hugetlb["2MB"].max_usage == 8
    runc = s.to_runc()
    assert runc["memory"]["usage"]["limit"] == (1 << 64) - 1  # type: ignore[index]

    v2 = tmp_path / "v2"
    put(v2, {"cpu.stat": "usage_usec 7\nuser_usec 5\nsystem_usec 2\nnr_periods 3\nnr_throttled 1\nthrottled_usec 9\n",
             "memory.current": "1000", "memory.max": "4096", "memory.peak": "2000",
             "memory.stat": "anon 600\nfile 300\ninactive_file 100\n", "memory.events": "max 2\noom_kill 1\n",
             "memory.swap.current": "0", "pids.current": "3", "pids.max": "max",
             "io.stat": "254:0 rbytes=10 wbytes=20 rios=1 wios=2 dbytes=0 dios=0\n",
             "hugetlb.2MB.current": "0", "hugetlb.2MB.events": "max 0\n"})
    s2 = stats_v2(str(v2))
    assert (s2.cpu.usage_total, s2.cpu.user, s2.cpu.throttled_time) == (7000, 5000, 9000)
    assert (s2.memory.usage, s2.memory.limit, s2.memory.working_set, s2.memory.rss, s2.memory.cache) == (
        1000, 4096, 900, 600, 300)
    assert s2.pids.limit is None
    assert [(e.op, e.value) for e in s2.blkio.io_serviced] == [("Read", 1), ("Write", 2)]
    assert "2MB" in s2.hugetlb


def test_hybrid_joins_the_unified_tree_only_for_limits_that_live_there(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import pallet.runtime.cgroups.detect as detect_mod

    monkeypatch.setattr(detect_mod, "systemd_booted", lambda: False)  # (a host whose init is not systemd)
    root = fake_hybrid(tmp_path / "cg")  # hugetlb bound to cgroup2, not mounted on v1
    fake_v1_leaf(root, "/p/c1")
    shutil.rmtree(root / "unified/p")
    m = new_manager("/p/c1", "c1", root=str(root))
    m.for_resources({"memory": {"limit": 1 << 26}, "pids": {"limit": 10}})
    assert m.self_joins and "" not in m.paths()  # v1 limits only: no cgroup2 cgroup, no pid written there
    assert m.unified_dir() == str(root / "unified/p/c1")  # (where it would be)
    m.create()
    assert not (root / "unified/p").exists()
    saved = load_manager(m.to_dict())
    assert saved.self_joins and "" not in saved.paths()  # exec and delete see the same hierarchies

    for resources in ({"hugepageLimits": [{"pageSize": "2MB", "limit": 1 << 21}]},
                      {"unified": {"cgroup.max.descendants": "10"}}):
        j = new_manager("/p/c2", "c2", root=str(root))
        j.for_resources(resources)
        assert not j.self_joins and j.paths()[""] == str(root / "unified/p/c2"), resources
        assert not load_manager(j.to_dict()).self_joins

    # hugetlb on v1: hugepage limits need no cgroup2 cgroup
    v1_huge = fake_hybrid(tmp_path / "cg2", hugetlb_on_v2=False)
    put(v1_huge / "hugetlb", {"cgroup.procs": ""})
    h = new_manager("/p/c3", "c3", root=str(v1_huge))
    h.for_resources({"hugepageLimits": [{"pageSize": "2MB", "limit": 1 << 21}]})
    assert h.self_joins

    # A state saved before the choice existed: it joined the unified tree.
    old = m.to_dict()
    del old["join_unified"]
    assert load_manager(old).paths()[""] == str(root / "unified/p/c1")


def test_hybrid_joins_the_unified_tree_where_systemd_tracks_processes_there(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import pallet.runtime.cgroups.detect as detect_mod

    run = tmp_path / "run"
    assert not detect_mod.systemd_booted(str(run))
    (run / "systemd" / "system").mkdir(parents=True)
    assert detect_mod.systemd_booted(str(run))
    root = fake_hybrid(tmp_path / "cg")
    real = detect_mod.systemd_booted
    monkeypatch.setattr(detect_mod, "systemd_booted", lambda: real(str(run)))
    put(root / "systemd", {"tasks": ""})
    fake_v1_leaf(root, "/p/c1")
    m = new_manager("/p/c1", "c1", root=str(root))
    m.for_resources({"memory": {"limit": 1 << 26}})
    assert not m.self_joins and m.paths()[""] == str(root / "unified/p/c1")  # moved there by pid, as runc does
    # and its name=systemd cgroup (systemd's own tracking on v1), made and joined like the others
    assert m.paths()["name=systemd"] == str(root / "systemd/p/c1")
    assert "name=systemd" not in m.available()
    m.create()
    assert (root / "systemd/p/c1").is_dir()
    put(root / "systemd/p/c1", {"tasks": ""})
    m.join_self()
    assert (root / "systemd/p/c1/tasks").read_text() == "0"
    assert load_manager(m.to_dict()).paths()["name=systemd"] == str(root / "systemd/p/c1")

    # Not where systemd is not the init: neither tree
    monkeypatch.setattr(detect_mod, "systemd_booted", lambda: False)
    n = new_manager("/p/c2", "c2", root=str(root))
    n.for_resources({})
    assert "name=systemd" not in n.paths() and "" not in n.paths()


def test_limits_of_the_unified_tree_refused_on_update_when_it_was_not_joined(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import pallet.runtime.cgroups.detect as detect_mod

    monkeypatch.setattr(detect_mod, "systemd_booted", lambda: False)  # (a host whose init is not systemd)
    root = fake_hybrid(tmp_path / "cg")
    fake_v1_leaf(root, "/p/c1")
    m = new_manager("/p/c1", "c1", root=str(root))
    m.for_resources({})
    with pytest.raises(ConfigError, match="joins only when created with hugepage limits"):
        m.set({"hugepageLimits": [{"pageSize": "2MB", "limit": 1 << 21}]})
    with pytest.raises(ConfigError, match="joins only when created with unified keys"):
        m.set({"unified": {"cgroup.max.descendants": "10"}})
