"""`pallet run --rm busybox true` against podman and docker (where they run), --network none and default.

Prints the median of N runs per tool and the ratio to pallet.  pallet runs in temporary roots with
its own busybox image; peers run only if their busybox image is already present locally (this
machine has no network: nothing is pulled).
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

N = int(os.environ.get("BENCH_N", "15"))


def timed(argv: list[str], env: dict[str, str] | None = None) -> float | None:
    start = time.perf_counter()
    proc = subprocess.run(argv, capture_output=True, env=env)
    if proc.returncode != 0:
        print(f"  {' '.join(argv[:3])}...: failed: {proc.stderr.decode(errors='replace').strip()[:200]}")
        return None
    return (time.perf_counter() - start) * 1000


def median_of(argv: list[str], env: dict[str, str] | None = None) -> float | None:
    if timed(argv, env) is None:  # warm-up, and a check that it runs at all
        return None
    times = [t for t in (timed(argv, env) for _ in range(N)) if t is not None]
    return statistics.median(times) if times else None


def main() -> int:
    from pallet.image.build_busybox import build_busybox
    from pallet.image.store import ImageStore

    base = tempfile.mkdtemp(prefix="pallet-bench-")
    root, run = os.path.join(base, "root"), os.path.join(base, "run")
    build_busybox(ImageStore(root))
    pallet = [os.path.join(os.path.dirname(sys.executable), "pallet"), "--root", root, "--runroot", run]
    results: dict[str, float | None] = {}
    try:
        for net in ("none", "default"):
            flags = ["--network", "none"] if net == "none" else []
            results[f"pallet ({net})"] = median_of([*pallet, "run", "--rm", *flags, "busybox", "true"])
            for peer in ("podman", "docker"):
                if shutil.which(peer) and subprocess.run([peer, "image", "inspect", "busybox"],
                                                          capture_output=True).returncode == 0:
                    results[f"{peer} ({net})"] = median_of([peer, "run", "--rm", *flags, "busybox", "true"])
    finally:
        subprocess.run([*pallet, "container", "prune", "-f"], capture_output=True)
        subprocess.run(["umount", "-R", base], capture_output=True)
        shutil.rmtree(base, ignore_errors=True)
    print(f"median of {N} runs of `run --rm busybox true` (ms):")
    for name, value in results.items():
        if value is None:
            print(f"  {name:<20} failed")
            continue
        ref = results.get(name.replace(name.split()[0], "pallet"))
        ratio = f"  (pallet is {value / ref:.2f}x faster)" if ref and not name.startswith("pallet") else ""
        print(f"  {name:<20} {value:8.1f}{ratio}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
