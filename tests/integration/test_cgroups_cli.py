"""pallet-runtime pause, resume, update and events on real containers."""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from tests.helpers.oci import Runtime, is_pallet, new_id

Bundle = Callable[..., Path]

pytestmark = pytest.mark.skipif(not is_pallet(), reason="checks pallet's own cgroup state")

COUNTER = "i=0; while true; do i=$((i+1)); echo $i >> /tmp/count; done"


def _start(rt: Runtime, b: Path, cid: str) -> None:
    out = rt.run("create", "-b", str(b), cid, capture_output=False, stdin=subprocess.DEVNULL,
                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    assert out.returncode == 0, f"create exited {out.returncode}"
    rt.run("start", cid, check=True)


def _cgroup(rt: Runtime, cid: str) -> dict[str, str]:
    from pallet.runtime.cgroups import load_manager

    state = json.loads((rt.root / cid / "state.json").read_text())
    return load_manager(state["cgroup"]).paths()


def _count(rootfs: Path) -> int:
    """The last complete line the counter appended (a freeze may land in the middle of a write)."""
    for _ in range(50):
        text = (rootfs / "tmp/count").read_text() if (rootfs / "tmp/count").exists() else ""
        lines = text[: text.rfind("\n")].split("\n")
        if lines[-1].isdigit():
            return int(lines[-1])
        time.sleep(0.01)
    raise AssertionError("the counter never wrote a number")


def test_pause_stops_the_counter_and_resume_restarts_it(rt: Runtime, bundle: Bundle, rootfs: Path) -> None:
    cid = new_id()
    _start(rt, bundle(["sh", "-c", COUNTER]), cid)
    try:
        time.sleep(0.2)
        assert _count(rootfs) > 0
        rt.run("pause", cid, check=True)
        assert rt.state(cid)["status"] == "paused"
        c1 = _count(rootfs)
        time.sleep(0.3)
        assert _count(rootfs) == c1
        again = rt.run("pause", cid)
        assert again.returncode == 1 and "it is paused (it must be running)" in again.stderr
        rt.run("resume", cid, check=True)
        assert rt.state(cid)["status"] == "running"
        time.sleep(0.2)
        assert _count(rootfs) > c1
        assert "it must be paused" in rt.run("resume", cid).stderr
    finally:
        rt.run("delete", "--force", cid)


def test_update_flags_and_resources_file(rt: Runtime, bundle: Bundle, tmp_path: Path) -> None:
    cid = new_id()
    _start(rt, bundle(["sleep", "30"]), cid)
    try:
        paths = _cgroup(rt, cid)
        read = lambda c, f: Path(paths[c], f).read_text().strip()  # noqa: E731
        rt.run("update", "--memory", "64m", "--memory-swap", "128m", "--pids-limit", "20", "--cpu-quota", "50000",
               "--cpu-period", "100000", "--cpu-shares", "512", "--cpuset-cpus", "0", cid, check=True)
        assert read("memory", "memory.limit_in_bytes") == str(64 << 20)
        assert read("memory", "memory.memsw.limit_in_bytes") == str(128 << 20)
        assert read("pids", "pids.max") == "20"
        assert read("cpu", "cpu.cfs_quota_us") == "50000"
        assert read("cpu", "cpu.shares") == "512"
        assert read("cpuset", "cpuset.cpus") == "0"
        res = tmp_path / "resources.json"
        res.write_text(json.dumps({"pids": {"limit": 40}, "memory": {"reservation": 32 << 20}}))
        rt.run("update", "-r", str(res), cid, check=True)
        assert read("pids", "pids.max") == "40"
        assert read("memory", "memory.soft_limit_in_bytes") == str(32 << 20)
        saved = json.loads((rt.root / cid / "state.json").read_text())["config"]["linux"]["resources"]
        assert saved["pids"] == {"limit": 40} and saved["memory"]["limit"] == 64 << 20
        bad = rt.run("update", "--memory", "1m", cid)
        assert bad.returncode == 1
        assert "linux.resources.memory.limit 1048576 is below the minimum" in bad.stderr
        assert read("memory", "memory.limit_in_bytes") == str(64 << 20)  # nothing was changed
        assert "is not a size" in rt.run("update", "--memory", "lots", cid).stderr
        assert "needs at least one limit" in rt.run("update", cid).stderr
    finally:
        rt.run("delete", "--force", cid)


def test_events_stats_and_oom(rt: Runtime, bundle: Bundle) -> None:
    cid = new_id()
    _start(rt, bundle(["sleep", "30"]), cid)
    try:
        out = rt.run("events", "--stats", cid, check=True)
        event = json.loads(out.stdout)
        assert event["type"] == "stats" and event["id"] == cid
        assert event["data"]["pids"]["current"] == 1
        assert event["data"]["memory"]["usage"]["usage"] > 0
        assert "--interval 'soon' is not a duration" in rt.run("events", "--interval", "soon", cid).stderr
    finally:
        rt.run("delete", "--force", cid)

    # A container that runs out of memory: the stream reports the OOM kill and ends with the container.
    cid = new_id()
    linux_edit = lambda cfg: cfg["linux"].setdefault("resources", {}).update(  # noqa: E731
        {"memory": {"limit": 16 << 20, "swap": 16 << 20}})
    b = bundle(["sh", "-c", "sleep 0.5; tail /dev/zero"], edit=linux_edit)
    _start(rt, b, cid)
    try:
        proc = subprocess.run(rt.cmd("events", "--interval", "200ms", cid), capture_output=True, text=True,
                              timeout=30)
        events = [json.loads(line) for line in proc.stdout.splitlines()]
        kinds = [e["type"] for e in events]
        assert "oom" in kinds and kinds[0] == "stats", kinds
        assert proc.returncode == 0
    finally:
        rt.run("delete", "--force", cid)
    assert not os.path.exists(_cgroup_dir_hint := "/sys/fs/cgroup/memory/pallet/" + cid), _cgroup_dir_hint
