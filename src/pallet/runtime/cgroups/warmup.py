"""Pay the kernel's wait for the next cgroup migration early, on a thread, while other work goes on.

Moving a process into a cgroup (a pid written to ``cgroup.procs``) takes the kernel's global
threadgroup lock for writing.  When that lock has been idle for a while, the writer first waits for
an RCU grace period: 5-20 ms on this kind of machine, on the start path of every container (runc
pays it too).  Writers that come while one waits, or within about one more grace period after it,
do not wait again.

A write the kernel refuses after it has taken the lock starts that wait without moving anything: a
thread writing its own id to ``cgroup.threads`` of a cgroup in another domain is refused with
EOPNOTSUPP (a thread may not leave its domain), and the kernel checks that only once it holds the
lock.  The warm-up makes a cgroup of its own at the top of the unified hierarchy
(``pallet-warmup-<pid>``), checks that it is a domain of its own (so the refusal is certain: the
thread is not in it), writes its thread id there every few milliseconds until it is stopped, then
removes the cgroup (and, first, any such cgroup left by a process killed before it could: empty,
named by a pid that is gone).  Nothing is ever moved, and no cgroup but its own is written.  On a
pure v1 host, and on a hybrid host for a container that does not join the unified tree, there is
nothing to warm: the runtime's moves there are made by the moving process itself, which takes no
global lock (see ``CgroupManager.join_self``).

The thread only makes system calls; a fork while it runs leaves a single-threaded child.
"""

from __future__ import annotations

import _thread
import os
import time

# After the first write (which waits), one write every few ms keeps the kernel from going back to
# idle (it does so about one grace period after the last writer): fewer wake-ups of this thread,
# which takes the interpreter's lock for a moment at each.
_PERIOD = 0.003
_PREFIX = "pallet-warmup-"


class MigrationWarmup:
    """A thread keeping the kernel's cgroup migration lock warm until ``stop()``."""

    def __init__(self, unified: str) -> None:
        self.unified = unified
        self.directory = os.path.join(unified, f"{_PREFIX}{os.getpid()}")
        self._wake = _thread.allocate_lock()
        self._done = _thread.allocate_lock()
        self.running = False
        self.refused = 0  # writes the kernel refused (each one took its lock first)
        self._tid = 0
        self._fd = -1  # cgroup.threads of the warm-up's cgroup
        # (monotonic time) the first write, the one that waits: when it was made, when it came back
        self.waited: tuple[float, float] | None = None

    def start(self) -> MigrationWarmup:
        # The set-up is made here, so that the thread's first act is the write: a new thread
        # waits for the interpreter's lock after each system call, up to milliseconds while this
        # thread imports and computes.
        try:
            _remove_stale(self.unified)
            os.mkdir(self.directory, 0o755)
        except OSError:
            return self  # no warm-up: the move pays its own wait
        try:
            if _is_own_domain(self.directory):
                self._fd = os.open(os.path.join(self.directory, "cgroup.threads"), os.O_WRONLY | os.O_CLOEXEC)
        except OSError:
            pass
        if self._fd < 0:
            self._remove()
            return self
        self._wake.acquire()
        self._done.acquire()
        started = _thread.allocate_lock()
        started.acquire()
        try:
            _thread.start_new_thread(self._run, (started,))
        except RuntimeError:
            self._wake.release()
            self._done.release()
            self._remove()
            return self
        started.acquire()  # the thread has its id (warmup_tid): a moment, for the interpreter's lock
        self.running = True
        return self

    def stop(self) -> None:
        """Stop poking; return once the thread has removed its cgroup and ended."""
        if not self.running:
            return
        self.running = False
        self._wake.release()
        self._done.acquire()
        self._done.release()
        # The thread has released _done on its way out: wait until the kernel has let it go too,
        # so that the process counts one thread again (the in-process runtime checks it).
        task = f"/proc/self/task/{self._tid}"
        for _ in range(10000):
            if not self._tid or not os.path.exists(task):
                break
            time.sleep(0.0001)

    def _run(self, started: _thread.LockType) -> None:
        self._tid = _thread.get_native_id()
        tid = str(self._tid).encode()
        started.release()
        try:
            while True:
                began = time.monotonic()
                try:
                    os.write(self._fd, tid)
                except OSError:
                    if not self.refused:
                        self.waited = (began, time.monotonic())
                    self.refused += 1  # EOPNOTSUPP, after the kernel took (and waited for) its lock
                else:
                    break  # moved after all (not possible into a domain of its own): stop now
                if self._wake.acquire(timeout=_PERIOD):
                    break
        finally:
            self._remove()
            self._done.release()

    def _remove(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
        try:
            os.rmdir(self.directory)
        except OSError:
            pass


def _remove_stale(unified: str) -> None:
    """Remove the warm-up cgroups of processes that are gone (killed before they could): empty, and
    named by their pid; a live process's is left alone."""
    try:
        entries = [e.name for e in os.scandir(unified) if e.name.startswith(_PREFIX)]
    except OSError:
        return
    for name in entries:
        pid = name[len(_PREFIX):]
        if not pid.isdigit() or int(pid) == os.getpid():
            continue
        try:
            os.kill(int(pid), 0)
            continue
        except ProcessLookupError:
            pass
        except OSError:
            continue
        try:
            os.rmdir(os.path.join(unified, name))
        except OSError:
            pass


def _is_own_domain(directory: str) -> bool:
    try:
        with open(os.path.join(directory, "cgroup.type")) as f:
            return f.read().strip() == "domain"
    except OSError:
        return False


_current: MigrationWarmup | None = None


def warmup_tid() -> int:
    """The thread id of this process's warm-up (0 if none has started)."""
    return _current._tid if _current is not None else 0


def start_warmup(root: str = "/sys/fs/cgroup", *, hybrid: bool = False) -> MigrationWarmup | None:
    """Start warming, or return the warm-up this process already runs.  On a pure v2 host, and on a
    hybrid host whose init is systemd, every container's first move waits: start as early as
    possible.  On another hybrid host a container joins the unified tree only for limits that live
    there (V1Manager.for_resources): start with ``hybrid`` once that is known (a warm-up that nobody
    needs would hold the kernel's cgroup mutex through its grace period, and every cgroup mkdir
    would queue behind it).  None on a pure v1 host, or such a hybrid one without ``hybrid``.
    Stopped by stop_warmup() (or its own stop())."""
    global _current
    if _current is not None and _current.running:
        return _current
    from pallet.runtime.cgroups.detect import detect, systemd_booted

    layout = detect(root)
    if not layout.unified or (layout.v1 and not hybrid and not systemd_booted()):
        return None
    _current = MigrationWarmup(layout.unified).start()
    return _current


def stop_warmup() -> None:
    """Stop this process's warm-up, if one runs."""
    if _current is not None:
        _current.stop()


def last_wait() -> tuple[float, float] | None:
    """When the last warm-up's first write was made and came back (time.monotonic()), if any."""
    return _current.waited if _current is not None else None
