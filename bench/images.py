"""Images and storage, side by side with docker and podman: issue 5's speed goals, in one run.

    .venv/bin/python bench/images.py [--runs 3] [--containers 20] [--no-docker] [--no-podman] [--variants]
                                     [--baseline-src DIR] [--settle SECONDS] [--only pull,load,create,disk]

The image: a Debian bookworm minbase root filesystem (~160 MB) built with mmdebstrap from the host's
own apt sources (Debian's package registry) and cached, with its gzip form, under
``$PALLET_BENCH_CACHE`` (default ``~/.cache/pallet-bench``), so reruns do not rebuild it.  It is made
into a one-layer image (gzip, as registries serve it) in a scratch pallet store, saved as a
docker-archive, and pushed to Debian's docker-registry on 127.0.0.1.  Then, each tool into an empty
store every time, ``--runs`` times, interleaved (medians, and pallet's time as a ratio of the peer's):

1. pull from the local registry; then the same plus the first container (pallet unpacks layers on
   first use, docker and podman while pulling: "pull + create" is the same work for all three);
2. load the docker-archive (gzip layers; and ``docker save``'s form, plain tar layers);
3. ``--containers`` containers created from the Debian image and from busybox: time per container
   (no copy: it must not depend on the image's size);
4. disk: ``--containers`` containers of the Debian image, each writing 1 MiB: the store grows by
   their changes only, not by a copy of the image.

``--baseline-src DIR`` adds an earlier pallet (``DIR/src``) to the pull and load rounds, for
before/after side by side.  ``--settle 65`` waits after each reset: on ext4 without a journal (this
VM), files created within a minute of a large removal in the same block group cost several times
more, which would charge each tool for its own reset.

docker: a private dockerd (see ``_peers.py``), stopped and removed at the end, the host checked.
podman: a private storage and containers.conf.  Only loopback is contacted (and, the first time,
Debian's package registry through mmdebstrap / apt-get).
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
from collections.abc import Callable, Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _peers import (  # noqa: E402
    CACHE,
    compile_sources,
    docker_daemon,
    du,
    empty_docker,
    empty_podman,
    peer_host_dirs_removed,
    podman_env,
)

from pallet.image.archive import save  # noqa: E402
from pallet.image.build_busybox import build_busybox  # noqa: E402
from pallet.image.newimage import DEFAULT_PATH, make_image, store_tar_file  # noqa: E402
from pallet.image.registry.push import push  # noqa: E402
from pallet.image.store import MEDIA_OCI_LAYER, MEDIA_OCI_LAYER_GZIP, ImageStore  # noqa: E402

PALLET = str(ROOT / ".venv" / "bin" / "pallet")
SUITE = "bookworm"


def debian_tarball() -> Path:
    """The cached mmdebstrap tarball (built the first time: about 30-60 s)."""
    out = CACHE / f"debian-{SUITE}-minbase.tar"
    if out.exists():
        return out
    sources = next((p for p in ("/etc/apt/sources.list.d/debian.sources", "/etc/apt/sources.list")
                    if os.path.exists(p)), None)
    if sources is None or not shutil.which("mmdebstrap"):
        raise SystemExit("need mmdebstrap and the host's apt sources to build the Debian image")
    CACHE.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".partial.tar")
    print(f"building {out} with mmdebstrap (once) ...", flush=True)
    subprocess.run(["mmdebstrap", "--quiet", "--variant=minbase", "--skip=output/dev", SUITE, str(tmp), sources],
                   check=True)
    tmp.rename(out)
    return out


def gzipped(tarball: Path) -> Path:
    """The tarball compressed as a registry layer usually is (gzip level 6), cached beside it."""
    out = tarball.with_suffix(".tar.gz")
    if not out.exists() or out.stat().st_mtime < tarball.stat().st_mtime:
        tmp = out.with_suffix(".partial")
        with open(tmp, "wb") as f:
            subprocess.run(["gzip", "-6", "-n", "-c", str(tarball)], stdout=f, check=True)
        tmp.rename(out)
    return out


def make_source(work: Path, registry_host: str) -> dict[str, object]:
    """The Debian image (gzip and plain forms) and busybox in a scratch store; archives; the push."""
    import hashlib

    tarball = debian_tarball()
    gz = gzipped(tarball)
    store = ImageStore(work / "source")
    def config(form: str) -> dict[str, object]:  # a label per form: the image id is the config's digest
        return {"config": {"Cmd": ["bash"], "Env": [DEFAULT_PATH], "Labels": {"bench.layer": form}},
                "history": [{"created_by": "mmdebstrap"}]}

    plain_digest, plain_size = store_tar_file(store.content, str(tarball))
    with open(gz, "rb") as f:
        h = hashlib.sha256()
        while chunk := f.read(1 << 20):
            h.update(chunk)
    with open(gz, "rb") as f:
        gz_digest = store.content.ingest(f, "sha256:" + h.hexdigest())
    gz_size = gz.stat().st_size
    ref_gz = "docker.io/bench/debian:gzip"
    ref_plain = "docker.io/bench/debian:plain"
    make_image(store, [(gz_digest, plain_digest, gz_size, MEDIA_OCI_LAYER_GZIP)], config("gzip"), [ref_gz])
    make_image(store, [(plain_digest, plain_digest, plain_size, MEDIA_OCI_LAYER)], config("plain"), [ref_plain])
    build_busybox(store)
    archives = {}
    for name, ref in (("gzip", ref_gz), ("plain", ref_plain), ("busybox", "docker.io/library/busybox:latest")):
        path = work / f"{name}.tar"
        with open(path, "wb") as out:
            save(store, [ref], out)
        archives[name] = path
    remote = f"{registry_host}/bench/debian:v1"
    store.tag(ref_gz, remote)
    push(store, remote)
    print(f"Debian image: {plain_size / 1e6:.0f} MB of layer tar, {gz_size / 1e6:.0f} MB gzip; "
          f"archives {archives['gzip'].stat().st_size / 1e6:.0f} MB (gzip) and "
          f"{archives['plain'].stat().st_size / 1e6:.0f} MB (plain); registry {registry_host}")
    return {"archives": archives, "remote": remote, "unpacked": plain_size}


def sh(cmd: list[str], **kw: object) -> str:
    proc = subprocess.run(cmd, capture_output=True, text=True, **kw)  # type: ignore[call-overload]
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}): {proc.stderr.strip()[-400:]}")
    return str(proc.stdout)


def rounds(tools: list[Tool], runs: int) -> Iterator[Tool]:
    """Each tool once per round, the first one rotating (no tool always runs after the same one)."""
    for r in range(runs):
        for i in range(len(tools)):
            yield tools[(r + i) % len(tools)]


def timed(fn: Callable[[], object]) -> float:
    os.sync()  # what earlier steps wrote is not written back during this one (not timed)
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


class Tool:
    """One engine under test: how it pulls, loads, creates and is emptied."""

    def __init__(self, name: str, prefix: list[str], reset: Callable[[], None], store_dir: Callable[[], Path],
                 env: dict[str, str] | None = None) -> None:
        self.name = name
        self.prefix = prefix
        self.reset = reset
        self.store_dir = store_dir
        self.env = dict(os.environ, **env) if env else None

    def pull(self, ref: str) -> None:
        extra = ["--tls-verify=false"] if self.name == "podman" else []
        sh([*self.prefix, "pull", "-q", *extra, ref], env=self.env)

    def load(self, archive: Path) -> None:
        sh([*self.prefix, "load", "-q", "-i", str(archive)], env=self.env)

    def create(self, image: str) -> str:
        out = sh([*self.prefix, "create", "--network", "none", image, "true"], env=self.env)
        return out.strip().splitlines()[-1]

    def run_writing(self, image: str, name: str) -> None:
        sh([*self.prefix, "run", "--name", name, "--network", "none", image,
            "sh", "-c", "head -c 1048576 /dev/urandom > /change.bin"])


def pallet_tool(work: Path, name: str = "pallet", env: dict[str, str] | None = None, src: str | None = None) -> Tool:
    """pallet's CLI; ``src``: another source tree's (started as pip's launcher starts pallet, with
    site: PYTHONPATH comes first; the venv's launcher finds modules through this tree's index)."""
    root = work / f"{name.replace('/', '-')}-root"
    run = work / f"{name.replace('/', '-')}-run"
    launcher = [PALLET]
    if src is not None:
        launcher = [sys.executable, "-c", "import sys; from pallet.cli.main import main; sys.exit(main())"]
        env = {**(env or {}), "PYTHONPATH": os.path.abspath(src)}

    def reset() -> None:
        if root.exists():
            subprocess.run([*launcher, "--root", str(root), "--runroot", str(run), "rm", "-f",
                            *sh([*launcher, "--root", str(root), "--runroot", str(run), "ps", "-aq"],
                                env=dict(os.environ, **env) if env else None).split()],
                           capture_output=True, env=dict(os.environ, **env) if env else None)
        with open("/proc/self/mountinfo") as f:
            for target in sorted((ln.split()[4] for ln in f if str(work) in ln.split()[4]), key=len, reverse=True):
                subprocess.run(["umount", "-l", target], capture_output=True)
        shutil.rmtree(root, ignore_errors=True)
        shutil.rmtree(run, ignore_errors=True)

    return Tool(name, [*launcher, "--root", str(root), "--runroot", str(run)], reset, lambda: root, env)


@contextlib.contextmanager
def peers(work: Path, args: argparse.Namespace, registry_host: str) -> Iterator[list[Tool]]:
    tools = [pallet_tool(work)]
    if args.variants:  # the same pallet with the host's gzip turned off, to see what it gives
        tools.append(pallet_tool(work, "pallet/zlib", {"PALLET_HOST_GZIP": "0"}))
    if args.baseline_src:  # another version of pallet (e.g. `git archive HEAD~3 src | tar -x -C DIR`)
        tools.append(pallet_tool(work, "pallet/before", src=os.path.join(args.baseline_src, "src")))
    with contextlib.ExitStack() as stack:
        if not args.no_docker:
            try:
                docker = stack.enter_context(docker_daemon(work, [registry_host]))
                data = Path(docker[2].removeprefix("unix://")).parent / "data"
                tools.append(Tool("docker", docker, lambda: empty_docker(docker), lambda: data))
            except RuntimeError as e:
                print(f"docker: skipped: {e}")
        if not args.no_podman:
            try:
                podman = stack.enter_context(podman_env(work))
                graph = Path(os.environ["CONTAINERS_STORAGE_CONF"]).parent / "root"
                tools.append(Tool("podman", podman, lambda: empty_podman(podman), lambda: graph))
            except RuntimeError as e:
                print(f"podman: skipped: {e}")
        yield tools


def report(title: str, results: dict[str, list[float]], unit: str = "s", scale: float = 1.0) -> None:
    print(f"\n{title}")
    mine = statistics.median(results["pallet"]) if results.get("pallet") else None
    for name, times in results.items():
        if not times:
            continue
        med = statistics.median(times)
        ratio = f"pallet/{name} {mine / med:.2f}" if mine is not None and name != "pallet" else ""
        print(f"  {name:<15} {med * scale:9.3f} {unit}  (min {min(times) * scale:.3f}, n={len(times)})  {ratio}")


def settle(seconds: float) -> None:
    """Wait after emptying a store: on ext4 without a journal, inodes freed in the last 60 s slow
    down creating files in their block group (see mark_top_dir in pallet.image.snapshot.base)."""
    if seconds:
        os.sync()
        time.sleep(seconds)


def measure_pull(tools: list[Tool], remote: str, runs: int, wait: float = 0.0) -> None:
    pull: dict[str, list[float]] = {t.name: [] for t in tools}
    both: dict[str, list[float]] = {t.name: [] for t in tools}
    for t in rounds(tools, runs):
        t.reset()
        settle(wait)
        a = timed(lambda t=t: t.pull(remote))  # type: ignore[misc]
        b = timed(lambda t=t: t.create(remote))  # type: ignore[misc]
        pull[t.name].append(a)
        both[t.name].append(a + b)
    report("pull from the local registry into an empty store (pallet: blobs only; docker, podman: also unpacked)", pull)
    report("pull + first container created (the same work for all: image unpacked, one container layer)", both)


def measure_load(tools: list[Tool], archives: dict[str, Path], runs: int, wait: float = 0.0) -> None:
    for form in ("gzip", "plain"):
        res: dict[str, list[float]] = {t.name: [] for t in tools}
        for t in rounds(tools, runs):
            t.reset()
            settle(wait)
            res[t.name].append(timed(lambda t=t, a=archives[form]: t.load(a)))  # type: ignore[misc]
        what = "gzip layers" if form == "gzip" else "plain tar layers, as docker save writes"
        report(f"load of the docker-archive ({archives[form].stat().st_size / 1e6:.0f} MB, {what}) into an empty store, "
               "layers unpacked", res)


def measure_create(tools: list[Tool], archives: dict[str, Path], n: int) -> None:
    print(f"\n{n} containers created (create --network none IMAGE true), time per container, median:")
    for t in tools:
        t.reset()
        t.load(archives["gzip"])
        t.load(archives["busybox"])
        line = []
        for image in ("docker.io/library/busybox:latest", "docker.io/bench/debian:gzip"):
            t.create(image)  # the first one unpacks (pallet) and warms up
            per = [timed(lambda t=t, image=image: t.create(image)) for _ in range(n)]  # type: ignore[misc]
            line.append(statistics.median(per))
        print(f"  {t.name:<15} busybox {line[0] * 1000:7.1f} ms   Debian {line[1] * 1000:7.1f} ms   "
              f"ratio {line[1] / line[0]:.2f}")


def measure_disk(tools: list[Tool], archives: dict[str, Path], n: int, unpacked: int) -> None:
    print(f"\ndisk: {n} containers of the Debian image ({unpacked / 1e6:.0f} MB unpacked), each writing 1 MiB:")
    for t in tools:
        t.reset()
        t.load(archives["gzip"])
        t.create("docker.io/bench/debian:gzip")  # unpacked (pallet), counted in the image's size
        before = du(t.store_dir())
        try:
            for i in range(n):
                t.run_writing("docker.io/bench/debian:gzip", f"bench-disk-{i}")
        except RuntimeError as e:
            print(f"  {t.name:<15} cannot run containers here: {str(e)[:200]}")
            continue
        after = du(t.store_dir())
        grown = after - before
        print(f"  {t.name:<15} store with the image {before / 1e6:7.1f} MB; after {n} containers {after / 1e6:7.1f} MB: "
              f"+{grown / 1e6:.1f} MB for {n * 1.048576:.1f} MB of changes "
              f"({(grown - n * 1048576) / n / 1e3:.0f} kB of overhead per container)")


def main() -> int:
    from tests.helpers.registry import start_registry

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--containers", type=int, default=20)
    ap.add_argument("--no-docker", action="store_true")
    ap.add_argument("--no-podman", action="store_true")
    ap.add_argument("--variants", action="store_true",
                    help="also pallet decompressing gzip in-process (PALLET_HOST_GZIP=0)")
    ap.add_argument("--baseline-src", metavar="DIR",
                    help="also pallet from DIR/src (an earlier version), side by side: before/after")
    ap.add_argument("--settle", type=float, default=0.0, metavar="SECONDS",
                    help="wait after emptying each store before the timed step (65: past ext4's "
                         "recently-deleted-inode window, so no tool pays for the previous one's removal)")
    ap.add_argument("--only", default="pull,load,create,disk", help="comma-separated parts to run")
    args = ap.parse_args()
    compile_sources(*([os.path.join(args.baseline_src, "src")] if args.baseline_src else []))
    parts = set(args.only.split(","))
    work = Path(tempfile.mkdtemp(prefix="pallet-bench-images-"))
    try:
        with start_registry(work / "registry") as registry:
            src = make_source(work, registry.host)
            archives = src["archives"]
            assert isinstance(archives, dict)
            with peer_host_dirs_removed(), peers(work, args, registry.host) as tools:
                try:
                    if "pull" in parts:
                        measure_pull(tools, str(src["remote"]), args.runs, args.settle)
                    if "load" in parts:
                        measure_load(tools, archives, args.runs, args.settle)
                    main_tools = [t for t in tools if "/" not in t.name]  # variants differ in unpacking only
                    if "create" in parts:
                        measure_create(main_tools, archives, args.containers)
                    if "disk" in parts:
                        measure_disk(main_tools, archives, args.containers, int(str(src["unpacked"])))
                finally:
                    for t in tools:
                        t.reset()
    finally:
        with open("/proc/self/mountinfo") as f:
            for target in sorted((ln.split()[4] for ln in f if str(work) in ln.split()[4]), key=len, reverse=True):
                subprocess.run(["umount", "-l", target], capture_output=True)
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
