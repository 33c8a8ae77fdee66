"""`run --rm busybox true`: pallet side by side with podman and docker, --network none and the default bridge.

Every tool runs in state of its own, made for the bench in a temporary directory and removed after:

- pallet: ``--root``/``--runroot`` in the temp dir, busybox built from the host's busybox-static;
- podman (``--runtime runc``: Debian's crun 1.8.1 refuses hybrid cgroups): ``--root``, ``--runroot``,
  ``--tmpdir``, ``--network-config-dir`` in the temp dir, and a containers.conf of its own
  (CONTAINERS_CONF: cgroupfs, default ulimits within this host's hard limits); busybox loaded from
  ``pallet save`` with ``podman load``;
- docker: a dockerd of its own (``_peers.docker_daemon``: own roots and socket, ``--iptables=false``
  so that it writes no firewall rules; its docker0 bridge for the default network), busybox loaded
  from the same archive with ``docker load``; stopped, docker0 deleted and its directory removed
  after.  Where dockerd is not installed, the binaries of Debian's docker.io and containerd
  packages, fetched once with ``apt-get download`` into the bench cache (nothing is installed).

The runs are interleaved (one of each tool per round) so that a slow moment of the machine hits all
of them alike.  Prints the median and the ratio to pallet's median for the same network mode.
``--baseline-src DIR`` adds pallet run from another source tree (``git worktree add DIR <commit>``, its
``src``), as "pallet-base", to compare two versions in the same interleaved run; it is started the
way the venv's launcher starts pallet (no site, its own module index).
Usage: ``sudo .venv/bin/python bench/run.py [-n N] [--no-docker] [--no-podman] [--baseline-src DIR] [--settle S]``
(``--settle``, 0.5 s by default: a pause before each timed run, so that no command starts while the
previous one's background work, such as podman's cleanup process or the kernel's namespace teardown,
still runs; each command is timed on a settled machine, as it would be run alone).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path


def timed(argv: list[str], env: dict[str, str] | None = None) -> float:
    start = time.perf_counter()
    proc = subprocess.run(argv, capture_output=True, env=env)
    elapsed = (time.perf_counter() - start) * 1000
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed ({proc.returncode}): {proc.stderr.decode(errors='replace')[:300]}")
    return elapsed


def _nft_tables() -> set[str]:
    out = subprocess.run(["nft", "list", "tables"], capture_output=True, text=True).stdout
    return {line.strip() for line in out.splitlines() if line.startswith("table ")}


def _links() -> set[str]:
    out = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True).stdout
    return {line.split(":")[1].strip().split("@")[0] for line in out.splitlines() if ":" in line}




def _umount_under(path: str) -> None:
    with open("/proc/self/mountinfo") as f:
        points = [line.split()[4] for line in f if line.split()[4].startswith(path)]
    for point in sorted(points, reverse=True):
        subprocess.run(["umount", "-l", point], capture_output=True)


@contextlib.contextmanager
def pallet_store(base: str) -> Iterator[list[str]]:
    from pallet.image.build_busybox import build_busybox
    from pallet.image.store import ImageStore

    root, run = os.path.join(base, "pallet-root"), os.path.join(base, "pallet-run")
    build_busybox(ImageStore(root))
    pallet = [os.path.join(os.path.dirname(sys.executable), "pallet"), "--root", root, "--runroot", run]
    tables, links = _nft_tables(), _links()
    try:
        yield pallet
    finally:
        subprocess.run([*pallet, "container", "prune", "-f"], capture_output=True)
        subprocess.run([*pallet, "network", "prune", "-f"], capture_output=True)
        # The store's default network (bridge pallet0, nft table "pallet") outlives prune: drop them
        # when this run made them.
        for link in sorted(_links() - links):
            if link.startswith("pallet"):
                subprocess.run(["ip", "link", "del", link], capture_output=True)
        if "table ip pallet" in _nft_tables() - tables:
            subprocess.run(["nft", "delete", "table", "ip", "pallet"], capture_output=True)


@contextlib.contextmanager
def podman_store(base: str, archive: str) -> Iterator[tuple[list[str], dict[str, str]]]:
    d = os.path.join(base, "podman")
    os.makedirs(d)
    conf = os.path.join(d, "containers.conf")
    with open(conf, "w") as f:
        f.write('[containers]\ndefault_ulimits = ["nofile=1024:1024", "nproc=4096:4096"]\n'
                f'[engine]\ncgroup_manager = "cgroupfs"\nevents_logger = "file"\n'
                f'events_logfile_path = "{d}/events.log"\nvolume_path = "{d}/volumes"\n')
    env = dict(os.environ, CONTAINERS_CONF=conf)
    podman = ["podman", "--root", f"{d}/root", "--runroot", f"{d}/runroot", "--tmpdir", f"{d}/tmp",
              "--network-config-dir", f"{d}/networks", "--runtime", "runc", "--storage-driver", "overlay"]
    tables, links = _nft_tables(), _links()
    try:
        subprocess.run([*podman, "load", "-i", archive], check=True, capture_output=True, env=env)
        yield podman, env
    finally:
        subprocess.run([*podman, "rm", "-af"], capture_output=True, env=env)
        subprocess.run([*podman, "system", "reset", "-f"], capture_output=True, env=env)
        _umount_under(d)
        for link in sorted(_links() - links):
            if link.startswith(("podman", "veth")):
                subprocess.run(["ip", "link", "del", link], capture_output=True)
        for table in sorted(_nft_tables() - tables):
            family, name = table.split()[1:3]
            text = subprocess.run(["nft", "list", "table", family, name], capture_output=True, text=True).stdout
            if "NETAVARK" in text:
                subprocess.run(["nft", "delete", "table", family, name], capture_output=True)


@contextlib.contextmanager
def docker_daemon(base: str, archive: str) -> Iterator[list[str]]:
    """A private dockerd (see _peers.py) with its default bridge, busybox loaded from ``archive``."""
    from _peers import docker_daemon as private_dockerd

    with private_dockerd(Path(base), [], bridge=True) as docker:
        subprocess.run([*docker, "load", "-i", archive], check=True, capture_output=True)
        try:
            yield docker
        finally:
            ids = subprocess.run([*docker, "ps", "-aq"], capture_output=True, text=True).stdout.split()
            if ids:
                subprocess.run([*docker, "rm", "-f", *ids], capture_output=True)


def _baseline_launcher(src: str, base: str) -> list[str]:
    """The command line that starts the other tree's pallet as scripts/setup's launcher starts this
    one: without site, the venv's packages and the tree's src on sys.path, its own module index
    (written here by its own pallet.modindex, where it has one)."""
    import sysconfig

    index = os.path.join(base, "baseline-modules.idx")
    wrote = subprocess.run([sys.executable, "-m", "pallet.modindex", "write", index], env=dict(os.environ, PYTHONPATH=src),
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode == 0
    install = f"from pallet.modindex import install; install({index!r}); " if wrote else ""
    code = (f"import sys; sys.path += [{sysconfig.get_path('purelib')!r}, {src!r}]; {install}"
            "from pallet.cli.main import main; sys.exit(main())")
    return [sys.executable, "-S", "-c", code]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("-n", type=int, default=int(os.environ.get("BENCH_N", "15")), help="runs per variant")
    parser.add_argument("--no-docker", action="store_true")
    parser.add_argument("--no-podman", action="store_true")
    parser.add_argument("--baseline-src", default="", help="a src dir of another pallet version, run beside")
    parser.add_argument("--settle", type=float, default=0.5, metavar="SECONDS",
                        help="pause before each timed run (default 0.5; 0 for none), so that none starts "
                             "while the previous command's background work (a peer's cleanup processes, "
                             "the kernel's namespace teardown) still runs")
    args = parser.parse_args()
    from _peers import compile_sources, peer_host_dirs_removed  # this script's directory: bench/

    compile_sources(*([args.baseline_src] if args.baseline_src else []))

    base = tempfile.mkdtemp(prefix="pallet-bench-run-")
    variants: dict[str, tuple[list[str], dict[str, str] | None]] = {}
    try:
        with contextlib.ExitStack() as stack:
            stack.enter_context(peer_host_dirs_removed())
            pallet = stack.enter_context(pallet_store(base))
            archive = os.path.join(base, "busybox.tar")
            subprocess.run([*pallet, "save", "-o", archive, "busybox"], check=True, capture_output=True)
            for net in ("none", "default"):
                flags = ["--network", "none"] if net == "none" else []
                variants[f"pallet ({net})"] = ([*pallet, "run", "--rm", *flags, "busybox", "true"], None)
                if args.baseline_src:  # started as the venv's launcher starts pallet (scripts/setup)
                    launcher = _baseline_launcher(os.path.abspath(args.baseline_src), base)
                    variants[f"pallet-base ({net})"] = ([*launcher, *pallet[1:], "run", "--rm", *flags, "busybox",
                                                         "true"], None)
            peers: list[tuple[str, list[str], dict[str, str] | None]] = []
            if not args.no_podman and shutil.which("podman"):
                try:
                    podman, penv = stack.enter_context(podman_store(base, archive))
                    peers.append(("podman", podman, penv))
                except (RuntimeError, subprocess.CalledProcessError) as exc:
                    print(f"podman: not measured: {exc}")
            if not args.no_docker and shutil.which("docker"):
                try:
                    peers.append(("docker", stack.enter_context(docker_daemon(base, archive)), None))
                except (RuntimeError, subprocess.CalledProcessError) as exc:
                    print(f"docker: not measured: {exc}")
            for name, cmd, env in peers:
                for net in ("none", "default"):
                    flags = ["--network", "none"] if net == "none" else []
                    variants[f"{name} ({net})"] = ([*cmd, "run", "--rm", *flags, "busybox", "true"], env)
            samples: dict[str, list[float]] = {name: [] for name in variants}
            failed: dict[str, str] = {}
            for _round in range(args.n + 1):  # the first round warms up and is not counted
                for name, (argv, env) in variants.items():
                    if name in failed:
                        continue
                    if args.settle:
                        time.sleep(args.settle)
                    try:
                        t = timed(argv, env)
                    except RuntimeError as exc:
                        failed[name] = str(exc)
                        continue
                    if _round:
                        samples[name].append(t)
    finally:
        _umount_under(base)
        shutil.rmtree(base, ignore_errors=True)
    print(f"run --rm busybox true: median of {args.n} interleaved runs (ms), ratio to pallet's median")
    for name, values in samples.items():
        if name in failed or not values:
            print(f"  {name:<18} failed: {failed.get(name, 'no samples')[:200]}")
            continue
        med = statistics.median(values)
        ref = samples.get("pallet " + name.split(" ", 1)[1])
        ratio = f"  x{med / statistics.median(ref):.2f}" if ref and not name.startswith("pallet") else ""
        print(f"  {name:<18} {med:7.1f}  (min {min(values):6.1f}, max {max(values):6.1f}){ratio}")
    for net in ("none", "default"):
        ours = samples.get(f"pallet ({net})")
        peer_samples = {n: v for n, v in samples.items() if n.endswith(f"({net})") and not n.startswith("pallet")
                        and n not in failed and v}
        if ours and peer_samples:
            fastest = min(statistics.median(v) for v in peer_samples.values())
            share = statistics.median(ours) / fastest
            print(f"  goal ({net}): pallet at most 1/3 of every peer's median: pallet/fastest peer = {share:.2f} "
                  f"({'met' if share <= 1 / 3 else 'not met'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
