"""Support for the cgroup tests (no tests here): forked children gated by a pipe, managers under the
session's test cgroup parent."""

from __future__ import annotations

import os
import signal
import uuid
from collections.abc import Callable, Iterator

import pytest
from tests.helpers.leaks import TEST_CGROUP_PARENT

from pallet.runtime.cgroups import CgroupManager, new_manager

UNIFIED = "/sys/fs/cgroup/unified"
_out_fd = -1  # in a child: where say() writes


def say(text: str) -> None:
    """Send a line from a child to its parent (Child.read_line)."""
    os.write(_out_fd, text.encode() + b"\n")


class Child:
    """A forked process that waits for ``release()`` before running ``fn`` (its result is the exit code)."""

    def __init__(self, fn: Callable[[], int | None]) -> None:
        gate_r, self._gate = os.pipe()
        self._out_r, out_w = os.pipe()
        pid = os.fork()
        if pid == 0:  # pragma: no cover - runs in the child
            code = 99
            try:
                os.close(self._gate)
                os.close(self._out_r)
                os.read(gate_r, 1)
                global _out_fd
                _out_fd = out_w
                code = fn() or 0
            except BaseException:
                code = 98
            os._exit(code)
        os.close(gate_r)
        os.close(out_w)
        self.pid = pid
        self.status: int | None = None

    def release(self) -> None:
        os.write(self._gate, b"x")

    def read_line(self) -> str:
        buf = b""
        while not buf.endswith(b"\n"):
            chunk = os.read(self._out_r, 1)
            if not chunk:
                break
            buf += chunk
        return buf.decode().strip()

    def wait(self) -> int:
        if self.status is None:
            self.status = os.waitpid(self.pid, 0)[1]
        return self.status

    def close(self) -> None:
        if self.status is None:
            try:
                os.kill(self.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.wait()
        for fd in (self._gate, self._out_r):
            try:
                os.close(fd)
            except OSError:
                pass


@pytest.fixture
def cgroups() -> Iterator[Callable[..., CgroupManager]]:
    """Make managers under TEST_CGROUP_PARENT; destroys every one of them afterwards."""
    made: list[CgroupManager] = []

    def make(root: str = "/sys/fs/cgroup", name: str | None = None) -> CgroupManager:
        cid = name or "c" + uuid.uuid4().hex[:10]
        m = new_manager(f"/{TEST_CGROUP_PARENT}/{cid}", cid, root=root)
        made.append(m)
        return m

    yield make
    for m in reversed(made):
        m.destroy()


@pytest.fixture
def children() -> Iterator[Callable[[Callable[[], int | None]], Child]]:
    started: list[Child] = []

    def start(fn: Callable[[], int | None]) -> Child:
        c = Child(fn)
        started.append(c)
        return c

    yield start
    for c in started:
        c.close()
