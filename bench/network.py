"""What networking adds to a container start: pallet's attach, side by side with podman where it runs.

    sudo .venv/bin/python bench/network.py [-n 30]

Runs in its own temporary roots with its own bridge, table and subnet (10.254.x), and removes all of
it at the end. Prints medians in milliseconds:

- netns: a new named network namespace with lo up (the runtime pays this for --network none too);
- attach: veth pair + addresses + route (+ DNS records) for one container on the default bridge;
- attach -p: the same with one published port (an nftables map update);
- attach user net: on a user network (DNS records rewritten);
- detach: release (the kernel deletes the links later, with the namespace);
- podman: `run --rm --network none` vs default bridge, when podman and a local busybox image exist.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src"))

from pallet.network import NetworkConfig, NetworkStore, parse_publish


def ms(samples: list[float]) -> str:
    return f"{statistics.median(samples) * 1000:7.2f} ms (min {min(samples) * 1000:.2f}, n={len(samples)})"


def bench_pallet(n: int) -> None:
    tag = "pb" + os.urandom(3).hex()
    tmp = tempfile.mkdtemp(prefix="pallet-netbench-")
    cfg = NetworkConfig(bridge=f"{tag}b", bridge_prefix=f"{tag}-", table=f"{tag}_t",
                        pools=[("10.254.0.0/16", 24)], veth_prefix=tag)
    store = NetworkStore(os.path.join(tmp, "root"), os.path.join(tmp, "run"), cfg)
    results: dict[str, list[float]] = {"netns": [], "attach": [], "attach -p": [], "attach user net": [],
                                       "detach": []}
    try:
        warm = os.urandom(32).hex()
        store.attach(warm, store.create_netns(warm))  # makes the bridge and the table once
        store.create("benchnet")
        ids: list[str] = []
        for i in range(n):
            for kind in ("attach", "attach -p", "attach user net"):
                cid = f"{i:04x}{kind[-1]}" + os.urandom(28).hex()
                t0 = time.perf_counter()
                ns = store.create_netns(cid)
                t1 = time.perf_counter()
                if kind == "attach":
                    store.attach(cid, ns)
                elif kind == "attach -p":
                    store.attach(cid, ns, publish=parse_publish("80"))
                else:
                    store.attach(cid, ns, [{"network": "benchnet"}], name=f"c{i}")
                t2 = time.perf_counter()
                results["netns"].append(t1 - t0)
                results[kind].append(t2 - t1)
                ids.append(cid)
        for cid in ids:
            t0 = time.perf_counter()
            store.detach(cid)
            results["detach"].append(time.perf_counter() - t0)
        store.detach(warm)
    finally:
        store.reset()
        shutil.rmtree(tmp, ignore_errors=True)
    print("pallet.network")
    for key, samples in results.items():
        print(f"  {key:<16} {ms(samples)}")


def bench_podman(n: int) -> None:
    if not shutil.which("podman"):
        print("podman: not installed")
        return
    image = "busybox"
    probe = subprocess.run(["podman", "image", "exists", image], capture_output=True)
    if probe.returncode != 0:
        print(f"podman: no local image {image!r} (there is no registry to pull from); skipped")
        return
    times: dict[str, list[float]] = {"none": [], "bridge": []}
    for _ in range(n):
        for mode in ("none", "bridge"):
            t0 = time.perf_counter()
            proc = subprocess.run(["podman", "run", "--rm", "--runtime", "runc", f"--network={mode}", image, "true"],
                                  capture_output=True)
            if proc.returncode != 0:
                print(f"podman: run failed: {proc.stderr.decode(errors='replace').strip()[:200]}")
                return
            times[mode].append(time.perf_counter() - t0)
    none, bridge = statistics.median(times["none"]), statistics.median(times["bridge"])
    print(f"podman run --rm true: none {none * 1000:.1f} ms, bridge {bridge * 1000:.1f} ms, "
          f"networking adds {(bridge - none) * 1000:.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-n", type=int, default=30, help="samples per measurement")
    parser.add_argument("--no-peers", action="store_true", help="measure pallet only")
    args = parser.parse_args()
    from _peers import compile_sources  # this script's directory: bench/

    compile_sources()
    if os.geteuid() != 0:
        sys.exit("bench/network.py needs root")
    bench_pallet(args.n)
    if not args.no_peers:
        bench_podman(max(3, args.n // 5))


if __name__ == "__main__":
    main()
