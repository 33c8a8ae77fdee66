"""What networking adds to `pallet run --rm busybox true`: the default bridge minus `--network none`.

Runs pallet in temporary roots with a network store of its own (bridge, table and pool named for the
bench, removed at the end), interleaving the variants so that drift on this noisy machine hits all of
them alike, and prints the median of N runs of each and the differences. With ``--peers``, podman
runs the same pair if it can without any outside network: its busybox image is loaded from
`pallet save` (nothing is pulled).

    sudo .venv/bin/python bench/engine_network.py -n 30 [--peers]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

CONFIG = {"bridge": "pbench0", "bridge_prefix": "pbench-", "table": "pallet_bench",
          "pools": [["10.213.0.0/16", 24], ["10.214.0.0/16", 24]], "veth_prefix": "pbv"}


def timed(argv: list[str]) -> float:
    start = time.perf_counter()
    proc = subprocess.run(argv, capture_output=True)
    elapsed = (time.perf_counter() - start) * 1000
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed ({proc.returncode}): {proc.stderr.decode(errors='replace')[:300]}")
    return elapsed


def interleaved(variants: dict[str, list[str]], n: int) -> dict[str, list[float]]:
    for argv in variants.values():  # warm-up: page cache, the bridge and the table made once
        timed(argv)
    samples: dict[str, list[float]] = {k: [] for k in variants}
    for _ in range(n):
        for name, argv in variants.items():
            samples[name].append(timed(argv))
    return samples


def import_cost(n: int = 15) -> float:
    """Median ms that `import pallet.network` adds to an interpreter that already has the CLI's imports."""
    code = ("import time,json,os,sys; import pallet.cli.main; t=time.perf_counter(); import pallet.network; "
            "print((time.perf_counter()-t)*1000)")
    out = [float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout)
           for _ in range(n)]
    return statistics.median(out)


def in_process(root: str, run: str, n: int) -> dict[str, list[float]]:
    """networking.setup + teardown for a record of each mode, in this process (no container, no CLI)."""
    from pallet.engine.networking import endpoint_config, setup, teardown
    from pallet.engine.service import Engine

    engine = Engine(root, run)
    modes = {"none": ("none", {}), "default bridge": ("default", {"bridge": endpoint_config()}),
             "user network": ("benchnet", {"benchnet": endpoint_config()})}
    out: dict[str, list[float]] = {f"{m} {phase}": [] for m in modes for phase in ("setup", "teardown")}
    for i in range(n + 1):
        for name, (mode, endpoints) in modes.items():
            cid = os.urandom(32).hex()
            engine.store.create_dir(cid)
            record = {"Id": cid, "Name": f"/bench{i}", "Config": {"Hostname": cid[:12]},
                      "HostConfig": {"NetworkMode": mode}, "Pallet": {"Endpoints": endpoints}}
            t0 = time.perf_counter()
            setup(engine, record)
            t1 = time.perf_counter()
            teardown(engine, record)
            t2 = time.perf_counter()
            engine.store.remove_dir(cid)
            if i:  # the first round is a warm-up
                out[f"{name} setup"].append((t1 - t0) * 1000)
                out[f"{name} teardown"].append((t2 - t1) * 1000)
    return out


def report(title: str, samples: dict[str, list[float]], base: str) -> None:
    med = {k: statistics.median(v) for k, v in samples.items()}
    print(title)
    for name, value in med.items():
        spread = f"p25 {statistics.quantiles(samples[name], n=4)[0]:.1f} p75 {statistics.quantiles(samples[name], n=4)[2]:.1f}"
        extra = "" if name == base else f"   (+{value - med[base]:.1f} over {base})"
        print(f"  {name:<34} {value:7.1f} ms   {spread}{extra}")


def podman_pair(pallet: list[str], base: str, n: int) -> None:
    if not shutil.which("podman"):
        print("podman: not installed")
        return
    loaded = subprocess.run(["podman", "image", "exists", "docker.io/library/busybox:latest"]).returncode != 0
    if loaded:
        archive = os.path.join(base, "busybox.tar")
        subprocess.run([*pallet, "save", "-o", archive, "busybox"], check=True, capture_output=True)
        load = subprocess.run(["podman", "load", "-i", archive], capture_output=True, text=True)
        if load.returncode != 0:
            print(f"podman: cannot load busybox: {load.stderr.strip()[:200]}")
            return
    tables_before = _nft_tables()
    image = "docker.io/library/busybox:latest"
    cmd = ["podman", "--runtime", "runc", "run", "--rm"]
    # podman's default ulimits exceed this host's hard limits and its systemd cgroup manager is not
    # usable here (FIELD-NOTES): a containers.conf of the bench's own, through CONTAINERS_CONF.
    conf = os.path.join(base, "containers.conf")
    with open(conf, "w") as f:
        f.write('[containers]\ndefault_ulimits = ["nofile=1024:1024", "nproc=4096:4096"]\n[engine]\ncgroup_manager = "cgroupfs"\n')
    os.environ["CONTAINERS_CONF"] = conf
    try:
        samples = interleaved({"podman --network none": [*cmd, "--network", "none", image, "true"],
                               "podman (default network)": [*cmd, image, "true"]}, n)
        report(f"podman --runtime runc run --rm busybox true, median of {n}, interleaved:", samples,
               "podman --network none")
    except SystemExit as e:
        print(f"podman: cannot run here: {e}")
    finally:
        if loaded:
            subprocess.run(["podman", "rmi", image], capture_output=True)
        _drop_netavark_tables(tables_before)


def _nft_tables() -> set[str]:
    out = subprocess.run(["nft", "list", "tables"], capture_output=True, text=True).stdout
    return {line.strip() for line in out.splitlines() if line.startswith("table ")}


def _drop_netavark_tables(before: set[str]) -> None:
    """Remove the iptables-nft tables podman's netavark made during the bench if they hold only its chains."""
    for table in sorted(_nft_tables() - before):
        family, name = table.split()[1:3]
        text = subprocess.run(["nft", "list", "table", family, name], capture_output=True, text=True).stdout
        chains = [line.split()[1] for line in text.splitlines() if line.strip().startswith("chain ")]
        builtin = {"INPUT", "OUTPUT", "FORWARD", "PREROUTING", "POSTROUTING"}
        if chains and all(c.startswith("NETAVARK") or c in builtin for c in chains):
            subprocess.run(["nft", "delete", "table", family, name], capture_output=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-n", type=int, default=30, help="runs of each variant")
    parser.add_argument("--peers", action="store_true", help="also podman (busybox loaded from pallet save)")
    args = parser.parse_args()
    from _peers import compile_sources  # this script's directory: bench/

    compile_sources()
    from pallet.image.build_busybox import build_busybox
    from pallet.image.store import ImageStore
    from pallet.network import NetworkStore

    base = tempfile.mkdtemp(prefix="pallet-bench-net-")
    root, run = os.path.join(base, "root"), os.path.join(base, "run")
    os.makedirs(os.path.join(root, "networks"))
    with open(os.path.join(root, "networks", "config.json"), "w") as f:
        json.dump(CONFIG, f)
    build_busybox(ImageStore(root))
    pallet = [os.path.join(os.path.dirname(sys.executable), "pallet"), "--root", root, "--runroot", run]
    try:
        runtime = os.environ.get("PALLET_RUNTIME") or "default runtime"
        subprocess.run([*pallet, "network", "create", "benchnet"], capture_output=True, check=True)
        samples = interleaved({
            "--network none": [*pallet, "run", "--rm", "--network", "none", "busybox", "true"],
            "default bridge": [*pallet, "run", "--rm", "busybox", "true"],
            "user network": [*pallet, "run", "--rm", "--network", "benchnet", "busybox", "true"],
            "default bridge -p 80 (nft update)": [*pallet, "run", "--rm", "-p", "80", "busybox", "true"],
            "--network host": [*pallet, "run", "--rm", "--network", "host", "busybox", "true"],
        }, args.n)
        report(f"pallet run --rm busybox true ({runtime}), median of {args.n}, interleaved:", samples, "--network none")
        print(f"  import pallet.network after the CLI's imports: {import_cost():.1f} ms")
        steps = in_process(root, run, args.n)
        print(f"in-process engine steps (pallet.engine.networking), median of {args.n}:")
        for name, values in steps.items():
            print(f"  {name:<34} {statistics.median(values):7.2f} ms")
        if args.peers:
            podman_pair(pallet, base, args.n)
    finally:
        subprocess.run([*pallet, "container", "prune", "-f"], capture_output=True)
        subprocess.run([*pallet, "network", "rm", "benchnet"], capture_output=True)
        NetworkStore(root, run).reset()
        subprocess.run(["umount", "-R", base], capture_output=True)
        shutil.rmtree(base, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
