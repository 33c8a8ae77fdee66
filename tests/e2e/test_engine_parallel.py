"""50 containers started in parallel all succeed, and nothing of them is left once they are removed."""

from __future__ import annotations

import json
import os
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from tests.helpers.cli import Pallet

N = 50


def _parallel(pallet: Pallet, argvs: list[list[str]]) -> list[subprocess.CompletedProcess[str]]:
    procs = [subprocess.Popen(pallet.argv(*argv), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              env=pallet.env) for argv in argvs]

    def finish(p: subprocess.Popen[str]) -> subprocess.CompletedProcess[str]:
        out, err = p.communicate(timeout=120)
        return subprocess.CompletedProcess(p.args, p.returncode, out, err)

    with ThreadPoolExecutor(len(procs)) as pool:
        return list(pool.map(finish, procs))


def _mounts_under(path: Path) -> list[str]:
    with open("/proc/self/mountinfo") as f:
        return [line.split()[4] for line in f if line.split()[4].startswith(str(path))]


def _assert_nothing_left(pallet: Pallet) -> None:
    assert pallet.out("ps", "-aq") == ""
    containers = pallet.root / "containers"
    assert [p for p in containers.iterdir() if p.name != "names"] == []
    assert list((containers / "names").iterdir()) == []
    runtime_state = pallet.runroot / "runtime" / "pallet"
    # nothing of any container; the compiled seccomp filters they shared stay cached
    assert not runtime_state.exists() or [p.name for p in runtime_state.iterdir()] in ([], ["@seccomp-cache"])
    assert _mounts_under(pallet.root) == []
    # One layer per image layer is all that stays in the snapshotter (no container layers).
    image_layers = len(json.loads(pallet.out("image", "inspect", "busybox"))[0]["RootFS"]["Layers"])
    assert len(list((pallet.root / "snapshots").rglob("fs"))) == image_layers


def test_fifty_in_parallel_foreground(pallet: Pallet) -> None:
    start = time.monotonic()
    results = _parallel(pallet, [["run", "--rm", "busybox", "sh", "-c", f"echo n{i} $$ $(hostname)"]
                                 for i in range(N)])
    elapsed = time.monotonic() - start
    failed = [(r.returncode, r.stderr) for r in results if r.returncode != 0]
    assert failed == []
    hostnames = set()
    for i, r in enumerate(results):
        word, pid, hostname = r.stdout.split()
        assert (word, pid) == (f"n{i}", "1")  # each its own PID namespace
        hostnames.add(hostname)
    assert len(hostnames) == N
    _assert_nothing_left(pallet)
    assert elapsed < 60


def test_fifty_in_parallel_detached_then_removed(pallet: Pallet) -> None:
    results = _parallel(pallet, [["run", "-d", "--name", f"c{i}", "busybox", "sleep", "60"] for i in range(N)])
    assert [(r.returncode, r.stderr) for r in results if r.returncode != 0] == []
    ids = [r.stdout.strip() for r in results]
    docs = json.loads(pallet.out("inspect", *ids))
    pids = {d["State"]["Pid"] for d in docs}
    assert all(d["State"]["Running"] for d in docs) and len(pids) == N
    assert all(os.path.exists(f"/proc/{pid}") for pid in pids)
    # All are children of the one supervisor.
    parents = set()
    for pid in pids:
        stat = Path(f"/proc/{pid}/stat").read_text()
        parents.add(int(stat[stat.rindex(")") + 2:].split()[1]))
    assert len(parents) == 1
    removed = _parallel(pallet, [["rm", "-f", cid] for cid in ids])
    assert [(r.returncode, r.stderr) for r in removed if r.returncode != 0] == []
    assert not any(os.path.exists(f"/proc/{pid}") for pid in pids)
    _assert_nothing_left(pallet)
