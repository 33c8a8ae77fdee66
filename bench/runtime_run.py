"""`pallet-runtime run` against `runc run` and `crun run` on one busybox bundle running /bin/true.

    .venv/bin/python bench/runtime_run.py [--runs N] [--no-floor] [--settle SECONDS]

Builds an OCI bundle in a temporary directory (busybox-static with its applet links; config.json
from pallet.oci.defaults.default_spec() with terminal false, args ["/bin/true"] and a cgroupsPath
under a unique /pallet-bench-<random>/ parent), then runs the runtimes interleaved (A B C A B C ...),
N times each after one untimed warm-up, each run with its own --root state directory and a fresh
container id, after a pause (``--settle``, 0.5 s by default: the kernel tears a run's namespaces
down after it has exited, and its RCU grace periods would lengthen the next run's first cgroup
move, whichever runtime it is).  Prints median, p90 and min wall time (ms) of each and the ratios to
runc.  A runtime
that fails its warm-up is reported and skipped (Debian's crun 1.8.1 refuses every container while
the cgroup2 hierarchy holds a controller: "cgroups in hybrid mode not supported").

The floor row is the venv's interpreter running `pass` with site imports: what any Python CLI pays
before its first line of code.

Everything made is removed at the end, on errors and interrupts too: containers left in a state
directory are deleted with their own runtime, processes left in the bench's cgroups are killed, the
cgroups (in every hierarchy) are removed bottom-up, mounts under the temporary directory are
detached, and the directory is removed.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VENV_BIN = os.path.join(REPO, ".venv", "bin")
BUSYBOX = "/bin/busybox"
CGROUP_ROOT = "/sys/fs/cgroup"
# Debian's crun 1.8.1 accepts only 1.0.x ("unknown version specified"); runc and pallet accept it too.
OCI_VERSION = "1.0.2"
ROOTFS_DIRS = ("bin", "sbin", "usr/bin", "usr/sbin", "etc", "proc", "sys", "dev", "tmp", "root", "var", "run")


class Runtime:
    """One runtime under test: its command line and the times measured."""

    def __init__(self, name: str, argv: list[str], *, makes_container: bool = True) -> None:
        self.name = name
        self.argv = argv
        self.makes_container = makes_container
        self.times: list[float] = []
        self.failures: list[str] = []
        self.leaks: list[str] = []
        self.skipped = ""


class Bench:
    def __init__(self, base: str, tag: str) -> None:
        self.base = base
        self.tag = tag
        self.bundle = os.path.join(base, "bundle")
        self.cgroup_parent = f"/pallet-bench-{tag}"
        self.cgroups_path = f"{self.cgroup_parent}/ctr"
        self.states: list[tuple[Runtime, str, str]] = []  # (runtime, --root, container id)
        self.counter = 0

    # -- the bundle -------------------------------------------------------------------------------

    def make_bundle(self) -> None:
        from pallet.oci.defaults import default_spec

        rootfs = os.path.join(self.bundle, "rootfs")
        for d in ROOTFS_DIRS:
            os.makedirs(os.path.join(rootfs, d), exist_ok=True)
        os.chmod(os.path.join(rootfs, "tmp"), 0o1777)
        shutil.copy2(BUSYBOX, os.path.join(rootfs, "bin", "busybox"))
        applets = subprocess.run([BUSYBOX, "--list"], check=True, capture_output=True, text=True).stdout.split()
        for applet in applets:
            link = os.path.join(rootfs, "bin", applet)
            if applet != "busybox" and not os.path.lexists(link):
                os.symlink("busybox", link)
        with open(os.path.join(rootfs, "etc", "passwd"), "w") as f:
            f.write("root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n")
        with open(os.path.join(rootfs, "etc", "group"), "w") as f:
            f.write("root:x:0:\nnogroup:x:65534:\n")
        spec = default_spec()
        spec["process"]["terminal"] = False
        spec["process"]["args"] = ["/bin/true"]
        spec["linux"]["cgroupsPath"] = self.cgroups_path
        spec["ociVersion"] = OCI_VERSION
        with open(os.path.join(self.bundle, "config.json"), "w") as f:
            json.dump(spec, f, indent=2)

    # -- one run ----------------------------------------------------------------------------------

    def command(self, rt: Runtime) -> list[str]:
        if not rt.makes_container:
            return rt.argv
        self.counter += 1
        root = os.path.join(self.base, "state", f"{rt.name}-{self.counter}")
        cid = f"bench-{self.tag}-{self.counter}"
        os.makedirs(root, mode=0o700)
        self.states.append((rt, root, cid))
        return [*rt.argv, "--root", root, "run", "--bundle", self.bundle, cid]

    def run_once(self, rt: Runtime) -> float | None:
        argv = self.command(rt)
        start = time.perf_counter()
        proc = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True)
        elapsed = (time.perf_counter() - start) * 1000
        if rt.makes_container:
            leaks = self.leftovers()
            if leaks:
                rt.leaks.append(", ".join(leaks))
                self.remove_cgroups(keep_parent=True)
        if proc.returncode != 0:
            err = (proc.stderr or proc.stdout).decode(errors="replace").strip().splitlines()
            rt.failures.append(f"exit {proc.returncode}: {err[-1] if err else ''}"[:300])
            return None
        return elapsed

    # -- what a run leaves behind -----------------------------------------------------------------

    def cgroup_dirs(self) -> list[str]:
        """The bench's parent cgroup in every hierarchy where it exists."""
        out: list[str] = []
        try:
            names = sorted(os.listdir(CGROUP_ROOT))
        except OSError:
            return out
        for name in names:
            hier = os.path.join(CGROUP_ROOT, name)
            if os.path.islink(hier) or not os.path.isdir(hier):
                continue
            path = hier + self.cgroup_parent
            if os.path.isdir(path):
                out.append(path)
        if os.path.isdir(CGROUP_ROOT + self.cgroup_parent):  # a pure cgroup2 host
            out.append(CGROUP_ROOT + self.cgroup_parent)
        return out

    def leftovers(self) -> list[str]:
        """Container cgroups still present after a run (each runtime should remove its own)."""
        leaf = self.cgroups_path[len(self.cgroup_parent):]
        return [d.removeprefix(CGROUP_ROOT + "/") for d in self.cgroup_dirs() if os.path.isdir(d + leaf)]

    def remove_cgroups(self, *, keep_parent: bool = False) -> None:
        for top in self.cgroup_dirs():
            dirs = [root for root, _, _ in os.walk(top)]
            for d in sorted(dirs, key=len, reverse=True):  # children before parents
                if keep_parent and d == top:
                    continue
                _kill_procs(d)
                for _ in range(100):
                    try:
                        os.rmdir(d)
                        break
                    except FileNotFoundError:
                        break
                    except OSError:  # EBUSY while killed processes are still exiting
                        time.sleep(0.01)
                else:
                    print(f"warning: could not remove cgroup {d}", file=sys.stderr)

    def cleanup(self) -> None:
        # Containers a failed or interrupted run left behind: their own runtime deletes them.
        for rt, root, cid in self.states:
            if os.path.isdir(root) and os.listdir(root):
                subprocess.run([*rt.argv, "--root", root, "delete", "--force", cid],
                               stdin=subprocess.DEVNULL, capture_output=True, timeout=30)
        self.remove_cgroups()
        _unmount_under(self.base)
        shutil.rmtree(self.base, ignore_errors=True)


def _kill_procs(cgroup_dir: str) -> None:
    try:
        with open(os.path.join(cgroup_dir, "cgroup.procs")) as f:
            pids = [int(p) for p in f.read().split()]
    except OSError:
        return
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def _unmount_under(base: str) -> None:
    """Detach mounts a runtime may have left under ``base`` (deepest first); only there."""
    prefix = os.path.realpath(base) + "/"
    with open("/proc/self/mountinfo") as f:
        points = [line.split()[4] for line in f]
    for point in sorted((p for p in points if p.startswith(prefix)), key=len, reverse=True):
        subprocess.run(["umount", "-l", point], capture_output=True)


def _p90(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, -(-9 * len(ordered) // 10) - 1))]  # nearest rank


def _runtimes(floor: bool) -> list[Runtime]:
    out = [Runtime("pallet-runtime", [os.path.join(VENV_BIN, "pallet-runtime")])]
    for name in ("runc", "crun"):
        path = shutil.which(name)
        if path:
            out.append(Runtime(name, [path]))
        else:
            rt = Runtime(name, [name])
            rt.skipped = "not installed"
            out.append(rt)
    if floor:
        out.append(Runtime("python -c pass", [os.path.join(VENV_BIN, "python"), "-c", "pass"],
                           makes_container=False))
    return out


def _report(runtimes: list[Runtime], runs: int) -> None:
    ref = next((r for r in runtimes if r.name == "runc" and r.times), None)
    ref_med = statistics.median(ref.times) if ref else None
    ref_p90 = _p90(ref.times) if ref else None
    print(f"\n`<runtime> run` of /bin/true on a busybox bundle, {runs} interleaved runs each (ms):")
    print(f"  {'':<16} {'median':>8} {'p90':>8} {'min':>8}   {'median/runc':>11} {'p90/runc':>9}")
    for rt in runtimes:
        if rt.skipped:
            print(f"  {rt.name:<16} skipped: {rt.skipped}")
            continue
        if not rt.times:
            print(f"  {rt.name:<16} no successful run")
            continue
        med, p90 = statistics.median(rt.times), _p90(rt.times)
        ratios = ""
        if ref_med and ref_p90:
            ratios = f"   {med / ref_med:>10.2f}x {p90 / ref_p90:>8.2f}x"
        print(f"  {rt.name:<16} {med:8.1f} {p90:8.1f} {min(rt.times):8.1f}{ratios}")
    for rt in runtimes:
        if rt.failures:
            print(f"  {rt.name}: {len(rt.failures)} failed runs, e.g. {rt.failures[0]}")
        if rt.leaks:
            print(f"  {rt.name}: left its cgroup behind after {len(rt.leaks)} runs, e.g. {rt.leaks[0]}")


def _on_term(signum: int, _frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0] if __doc__ else None)
    ap.add_argument("--runs", type=int, default=30, help="timed runs per runtime (default 30)")
    ap.add_argument("--no-floor", action="store_true", help="do not time the interpreter's own start")
    ap.add_argument("--settle", type=float, default=0.5, metavar="SECONDS",
                    help="pause before each timed run (default 0.5; 0 for none), so that none starts while the "
                         "kernel still tears down the previous run's namespaces (its RCU grace periods delay "
                         "the next cgroup move of every runtime)")
    args = ap.parse_args()
    if args.runs < 1:
        ap.error(f"--runs {args.runs}: must be at least 1")
    if os.geteuid() != 0:
        print("runtime_run.py needs root (it creates namespaces and cgroups)", file=sys.stderr)
        return 2
    if not os.path.exists(BUSYBOX):
        print(f"{BUSYBOX} is missing (install busybox-static)", file=sys.stderr)
        return 2
    from _peers import compile_sources  # this script's directory: bench/

    compile_sources()

    signal.signal(signal.SIGTERM, _on_term)
    signal.signal(signal.SIGHUP, _on_term)
    tag = secrets.token_hex(4)
    bench = Bench(tempfile.mkdtemp(prefix=f"pallet-bench-{tag}-"), tag)
    runtimes = _runtimes(not args.no_floor)
    try:
        bench.make_bundle()
        for rt in runtimes:
            if rt.skipped:
                continue
            if bench.run_once(rt) is None:  # warm-up (page cache, .pyc) and a check that it runs at all
                rt.skipped = f"warm-up failed: {rt.failures.pop()}"
        live = [rt for rt in runtimes if not rt.skipped]
        for _ in range(args.runs):
            for rt in live:
                if args.settle:
                    time.sleep(args.settle)
                t = bench.run_once(rt)
                if t is not None:
                    rt.times.append(t)
    except KeyboardInterrupt:
        print("\ninterrupted: cleaning up", file=sys.stderr)
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # let the cleanup finish
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        bench.cleanup()
        return 130
    finally:
        if os.path.exists(bench.base):
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            bench.cleanup()
            signal.signal(signal.SIGINT, signal.default_int_handler)
    _report(runtimes, args.runs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
