"""The init forked beside the runtime's own work: moved off the runtime's CPU at the fork
(parent._cpus_apart), and all of the runtime's CPUs taken back on "go" (init.Go).  Each case runs
in a child process that pins itself, so that the test process keeps its own CPUs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

SRC = str(Path(__file__).resolve().parents[2] / "src")
CPUS = sorted(os.sched_getaffinity(0))

pytestmark = pytest.mark.skipif(len(CPUS) < 2, reason="needs two CPUs")


def _run(code: str) -> object:
    out = subprocess.run([sys.executable, "-I", "-S", "-c", f"import sys\nsys.path.insert(0, {SRC!r})\n" + code],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def test_the_cpus_apart_are_all_but_the_one_the_runtime_runs_on() -> None:
    two = CPUS[:2]
    got = _run(f"""
import json, os
from pallet.runtime.process.parent import _cpus_apart
from pallet.runtime.process.setup import Setup
setup = Setup("c", {{}}, "/")
os.sched_setaffinity(0, {two!r})
others = _cpus_apart(setup)
mine = setup.cpus
os.sched_setaffinity(0, {two[:1]!r})
print(json.dumps([sorted(mine), sorted(others), _cpus_apart(setup), setup.cpus]))
""")
    assert isinstance(got, list)
    mine, others, alone, alone_cpus = got
    assert mine == two
    assert len(others) == 1 and others[0] in two  # (the runtime ran on the other one a moment ago)
    assert alone is None and alone_cpus is None  # one CPU: nowhere to move the init to


def test_the_init_is_moved_at_the_fork_and_takes_back_the_runtimes_cpus_on_go() -> None:
    two = CPUS[:2]
    got = _run(f"""
import json, os
from pallet._linux.system import System
from pallet.runtime.process.init import Go
from pallet.runtime.process.parent import _cpus_apart, _move_apart
from pallet.runtime.process.setup import Setup

class Chan:
    def expect(self, *types, who):
        assert types == ("go",)
        return {{"type": "go"}}, []

os.sched_setaffinity(0, {two!r})
setup = Setup("c", {{}}, "/")
apart = _cpus_apart(setup)
r, w = os.pipe()
pid = os.fork()
if pid == 0:
    os.read(r, 1)  # until the parent has moved us
    moved = sorted(os.sched_getaffinity(0))
    Go(Chan(), System(), False, None, setup.cpus)()
    os.write(w, json.dumps([moved, sorted(os.sched_getaffinity(0))]).encode())
    os._exit(0)
_move_apart(pid, apart)
os.write(w, b"x")
os.waitpid(pid, 0)
os.close(w)
result = json.loads(os.read(r, 1000))
Go(Chan(), System(), False, None, None)()  # no CPUs to take back: the mask stays
print(json.dumps([*result, sorted(apart), sorted(os.sched_getaffinity(0))]))
""")
    assert isinstance(got, list)
    moved, after_go, others, untouched = got
    assert moved == others and len(moved) == 1
    assert after_go == two
    assert untouched == two
