"""What a test may leave behind on the host, and how to find it.

Every integration test runs in its own state roots under pytest's temporary directory and with a
cgroup parent of its own session (``TEST_CGROUP_PARENT``).  The checks look only at objects that
belong to this test session, so that tests running beside other work on the host do not see it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
import uuid

SESSION_TAG = os.environ.setdefault("PALLET_TEST_TAG", "pt" + uuid.uuid4().hex[:6])
# Cgroup parent used by every container a test creates (tests pass it as cgroupsPath prefix).
TEST_CGROUP_PARENT = f"pallet-test-{SESSION_TAG}"
CGROUP_ROOT = "/sys/fs/cgroup"


def mountpoints() -> set[str]:
    out = set()
    with open("/proc/self/mountinfo") as f:
        for line in f:
            out.add(line.split()[4])
    return out


def cgroup_dirs() -> set[str]:
    """Every cgroup directory under this session's cgroup parent, on v1 and v2 hierarchies."""
    found: set[str] = set()
    try:
        hierarchies = os.listdir(CGROUP_ROOT)
    except OSError:
        return found
    for h in hierarchies:
        base = os.path.join(CGROUP_ROOT, h, TEST_CGROUP_PARENT)
        if not os.path.isdir(base):
            continue
        for dirpath, dirnames, _ in os.walk(base):
            for d in dirnames:
                found.add(os.path.join(dirpath, d))
    return found


def links() -> set[str]:
    """Links of this session: named with its tag, or enslaved to a bridge named with it.

    Other work on the host (another test session) has links of its own: they are not ours to judge.
    """
    try:
        out = subprocess.run(["ip", "-o", "link", "show"], capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return set()
    found = set()
    for line in out.splitlines():
        if ":" not in line:
            continue
        name = line.split(":")[1].strip().split("@")[0]
        words = line.split()
        master = words[words.index("master") + 1] if "master" in words else ""
        if name.startswith(SESSION_TAG) or master.startswith(SESSION_TAG):
            found.add(name)
    return found


def netns_names() -> set[str]:
    try:
        return set(os.listdir("/run/netns"))
    except OSError:
        return set()


def children(pid: int | None = None) -> list[int]:
    pid = pid or os.getpid()
    out: list[int] = []
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/children") as f:
                out.extend(int(x) for x in f.read().split())
        except FileNotFoundError:
            pass
    return out


def proc_state(pid: int) -> str | None:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            data = f.read()
    except OSError:
        return None
    return data[data.rindex(b")") + 2 :].split()[0].decode()


def cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return "?"


def reap_zombies(before: set[int]) -> None:
    """Reap children of this process that are zombies and were not there before the test."""
    for pid in children():
        if pid in before:
            continue
        if proc_state(pid) == "Z":
            try:
                os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                pass


def leftover_processes(before: set[int], grace: float = 2.0) -> list[str]:
    """Live children (orphans reparent here: the test process is a subreaper) new since ``before``."""
    deadline = time.monotonic() + grace
    while True:
        reap_zombies(before)
        alive = [p for p in children() if p not in before and proc_state(p) not in (None, "Z")]
        if not alive or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    report = [f"pid {p}: {cmdline(p)}" for p in alive]
    for p in alive:
        try:
            os.kill(p, signal.SIGKILL)
        except ProcessLookupError:
            pass
    reap_zombies(before)
    return report


def remove_cgroup_tree(path: str) -> None:
    """Remove a cgroup directory tree of this session (deepest first), killing what is left."""
    for dirpath, _dirnames, _ in sorted(os.walk(path), key=lambda t: -t[0].count("/")):
        procs = os.path.join(dirpath, "cgroup.procs")
        try:
            with open(procs) as f:
                for pid in f.read().split():
                    try:
                        os.kill(int(pid), signal.SIGKILL)
                    except ProcessLookupError:
                        pass
        except OSError:
            pass
        for _ in range(50):
            try:
                os.rmdir(dirpath)
                break
            except FileNotFoundError:
                break
            except OSError:
                time.sleep(0.02)
