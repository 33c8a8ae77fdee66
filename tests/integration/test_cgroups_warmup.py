"""The cgroup migration warm-up: its own cgroup at the top of the unified tree, refused writes
only (nothing moved), everything removed and the thread gone when it stops.  On a hybrid host it
runs only for a container that joins the unified tree (``hybrid=True``)."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from tests.helpers.oci import Runtime, new_id

from pallet.runtime.cgroups.detect import detect
from pallet.runtime.cgroups.warmup import MigrationWarmup, start_warmup

UNIFIED = detect().unified
pytestmark = pytest.mark.skipif(UNIFIED is None, reason="no unified cgroup hierarchy on this host")


def _threads() -> int:
    return len(os.listdir("/proc/self/task"))


def _cgroups_of_tasks() -> dict[str, str]:
    return {t: Path(f"/proc/self/task/{t}/cgroup").read_text() for t in os.listdir("/proc/self/task")}


def test_warmup_pokes_moves_nothing_and_cleans_up() -> None:
    before = _cgroups_of_tasks()
    threads = _threads()
    w = start_warmup(hybrid=True)
    assert isinstance(w, MigrationWarmup) and w.running
    try:
        deadline = time.monotonic() + 5
        while w.refused < 2 and time.monotonic() < deadline:
            time.sleep(0.005)
        assert os.path.isdir(w.directory)
        assert os.path.dirname(w.directory) == UNIFIED
        assert w.refused >= 2  # the kernel refused the thread's own id, again and again
        assert not Path(w.directory, "cgroup.procs").read_text().strip()
        assert not Path(w.directory, "cgroup.threads").read_text().strip()
        # The process's own threads stayed where they were.
        assert all(before[t] == text for t, text in _cgroups_of_tasks().items() if t in before)
        assert start_warmup(hybrid=True) is w  # one per process
        assert w.waited is not None and w.waited[0] <= w.waited[1]  # when the first write waited
    finally:
        w.stop()
    assert not w.running
    assert not os.path.exists(w.directory)
    assert _threads() == threads
    w.stop()  # twice is fine


def test_a_warmup_removes_those_its_killed_predecessors_left() -> None:
    import subprocess

    gone = subprocess.Popen(["true"])
    gone.wait()  # a pid that is gone
    alive = subprocess.Popen(["sleep", "30"])
    assert UNIFIED is not None
    stale, live = Path(UNIFIED, f"pallet-warmup-{gone.pid}"), Path(UNIFIED, f"pallet-warmup-{alive.pid}")
    try:
        stale.mkdir()
        live.mkdir()
        w = start_warmup(hybrid=True)
        assert w is not None
        deadline = time.monotonic() + 5
        while w.refused < 1 and time.monotonic() < deadline:
            time.sleep(0.005)
        w.stop()
        assert not stale.exists()  # its process is gone
        assert live.exists()  # a live process's is not ours to remove
    finally:
        alive.kill()
        alive.wait()
        for d in (stale, live):
            if d.exists():
                d.rmdir()


def test_no_unified_tree_no_warmup(tmp_path: Path) -> None:
    (tmp_path / "memory").mkdir()
    (tmp_path / "memory" / "cgroup.procs").write_text("")
    assert start_warmup(str(tmp_path)) is None
    assert start_warmup(str(tmp_path), hybrid=True) is None


def test_on_a_hybrid_host_no_warmup_unless_a_container_joins_the_unified_tree(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import pallet.runtime.cgroups.detect as detect_mod

    monkeypatch.setattr(detect_mod, "systemd_booted", lambda: False)  # (a host whose init is not systemd)
    (tmp_path / "memory").mkdir()
    (tmp_path / "unified").mkdir()
    (tmp_path / "unified" / "cgroup.controllers").write_text("")
    assert detect(str(tmp_path)).mode == "hybrid"
    assert start_warmup(str(tmp_path)) is None  # (with hybrid=True it would mkdir in the fake tree)


def test_a_cli_create_that_fails_leaves_no_warmup_cgroup(tmp_path: Path) -> None:
    import subprocess
    import sys

    (tmp_path / "config.json").write_text("{not json")
    out = subprocess.run([os.path.join(os.path.dirname(sys.executable), "pallet-runtime"), "--root",
                          str(tmp_path / "state"), "create", "--bundle", str(tmp_path), "x1"],
                         capture_output=True, text=True)
    assert out.returncode != 0 and "config.json" in out.stderr
    assert not [d for d in os.listdir(UNIFIED or "/") if d.startswith("pallet-warmup-")]


def test_debug_says_how_long_the_kernel_made_the_warmup_wait(rt: Runtime, bundle: Callable[..., Path]) -> None:
    import subprocess
    import sys

    # A limit that lives in the unified tree: the container joins it, so the warm-up runs (on a pure
    # v2 host it always does).
    b = bundle(["true"], edit=lambda c: c["linux"].setdefault("resources", {}).update(
        unified={"cgroup.max.descendants": "10"}))
    out = subprocess.run([os.path.join(os.path.dirname(sys.executable), "pallet-runtime"), "--root",
                          str(rt.root), "--debug", "run", "--bundle", str(b), new_id()],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    line = next(x for x in out.stderr.splitlines() if "grace period" in x)
    waited = float(line.split("): ")[1].split(" ms")[0])
    assert 0 <= waited < 5000, line


def test_on_a_hybrid_host_whose_init_is_systemd_the_warmup_starts_early(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import pallet.runtime.cgroups.detect as detect_mod

    assert UNIFIED is not None
    if detect().mode != "hybrid":
        pytest.skip("a hybrid host")
    monkeypatch.setattr(detect_mod, "systemd_booted", lambda: True)
    w = start_warmup()  # every container joins the unified tree there (V1Manager.for_resources)
    assert w is not None and w.running
    w.stop()
    assert not os.path.exists(w.directory)
