"""Host memory pallet adds per idle detached container: 50 `run -d busybox sleep` containers.

Measures the USS/PSS (from /proc/PID/smaps_rollup) of pallet's supervisor with 1 container and with
N containers: the growth divided by N-1 is what each further container costs beyond its own processes.
For comparison, the USS of podman's conmon per container when podman and its busybox image are here.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time

N = int(os.environ.get("BENCH_N", "50"))


def rollup(pid: int) -> tuple[int, int]:
    """(USS, PSS) in KiB."""
    uss = pss = 0
    with open(f"/proc/{pid}/smaps_rollup") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in ("Private_Clean", "Private_Dirty"):
                uss += int(value.split()[0])
            elif key == "Pss":
                pss = int(value.split()[0])
    return uss, pss


def supervisor_pid(runroot: str) -> int:
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as f:
                    cmd = f.read().split(b"\0")
            except OSError:
                continue
            if b"pallet.engine.monitor" in cmd and runroot.encode() in cmd:
                return int(pid)
    raise SystemExit("no supervisor found")


def start(pallet: list[str]) -> None:
    proc = subprocess.run([*pallet, "run", "-d", "busybox", "sleep", "600"], capture_output=True, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"pallet run -d failed ({proc.returncode}): {proc.stderr.strip()}")


def main() -> int:
    from pallet.image.build_busybox import build_busybox
    from pallet.image.store import ImageStore

    base = tempfile.mkdtemp(prefix="pallet-mem-")
    root, run = os.path.join(base, "root"), os.path.join(base, "run")
    build_busybox(ImageStore(root))
    pallet = [os.path.join(os.path.dirname(sys.executable), "pallet"), "--root", root, "--runroot", run]
    try:
        start(pallet)
        time.sleep(0.5)
        sup = supervisor_pid(run)
        uss1, pss1 = rollup(sup)
        for _ in range(N - 1):
            start(pallet)
        time.sleep(1)
        uss_n, pss_n = rollup(sup)
        print(f"supervisor with 1 container: USS {uss1} KiB, PSS {pss1} KiB")
        print(f"supervisor with {N} containers: USS {uss_n} KiB, PSS {pss_n} KiB")
        print(f"added per container: USS {(uss_n - uss1) / (N - 1):.1f} KiB, PSS {(pss_n - pss1) / (N - 1):.1f} KiB")
        print(f"all-in per container (supervisor / {N}): USS {uss_n / N:.1f} KiB")
        conmons = [int(p) for p in os.listdir("/proc") if p.isdigit() and _comm(int(p)) == "conmon"]
        if conmons:
            print(f"for reference, conmon (running now): USS {rollup(conmons[0])[0]} KiB each")
    finally:
        ids = subprocess.run([*pallet, "ps", "-aq"], capture_output=True, text=True).stdout.split()
        if ids:
            subprocess.run([*pallet, "rm", "-f", *ids], capture_output=True)
        shutil.rmtree(base, ignore_errors=True)
    return 0


def _comm(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/comm") as f:
            return f.read().strip()
    except OSError:
        return ""


if __name__ == "__main__":
    sys.exit(main())
