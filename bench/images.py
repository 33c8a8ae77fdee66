"""Images and storage: load an image from a docker-archive, and make container layers from it.

    .venv/bin/python bench/images.py [--size-mb 96] [--runs 3] [--containers 20]

Builds a test image (the busybox image plus one gzip layer of ``--size-mb``, half random and half
text, in files of 8-256 KB), saves it as a docker-archive, then measures (medians of ``--runs``):

- load into an empty store: ``pallet load`` (CLI: blobs verified into the content store, layers
  unpacked into overlay snapshots) beside ``podman load`` (the same work into its own storage, run
  with temporary --root/--runroot) and ``skopeo copy docker-archive: oci:`` (blobs only, no unpack);
- a container's layer: ``--containers`` snapshots prepared on the big image and on busybox (time per
  container: it must not depend on the image's size), and the disk used by them (no copy).

Nothing leaves the machine; every store lives in a temporary directory removed at the end.
"""

from __future__ import annotations

import argparse
import gzip
import io
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from pallet.image.archive import save  # noqa: E402
from pallet.image.build_busybox import build_busybox  # noqa: E402
from pallet.image.newimage import make_image  # noqa: E402
from pallet.image.snapshot import open_snapshotter  # noqa: E402
from pallet.image.snapshot.base import disk_usage  # noqa: E402
from pallet.image.store import MEDIA_OCI_LAYER_GZIP, ImageStore  # noqa: E402
from pallet.image.unpack import unpack  # noqa: E402

PALLET = str(ROOT / ".venv" / "bin" / "pallet")


def big_layer(size: int) -> bytes:
    import random

    rng = random.Random(42)
    buf = io.BytesIO()
    words = [b"alpha", b"beta", b"gamma", b"delta", b"layer", b"image", b"pallet", b"overlay"]
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        done = 0
        i = 0
        while done < size:
            n = rng.randint(8 << 10, 256 << 10)
            data = rng.randbytes(n) if i % 2 else b" ".join(rng.choice(words) for _ in range(n // 6))[:n]
            ti = tarfile.TarInfo(f"data/d{i % 50}/f{i}")
            ti.size = len(data)
            ti.mode = 0o644
            tf.addfile(ti, io.BytesIO(data))
            done += len(data)
            i += 1
    return buf.getvalue()


def make_archive(work: Path, size_mb: int) -> tuple[Path, int]:
    import hashlib

    store = ImageStore(work / "src")
    bb = build_busybox(store)
    layer = big_layer(size_mb << 20)
    blob = gzip.compress(layer, compresslevel=1)
    digest = store.content.add_bytes(blob)
    diff_id = "sha256:" + hashlib.sha256(layer).hexdigest()
    layers = [(x["digest"], x["diff_id"], x["size"], x["media_type"]) for x in bb.layers]
    layers.append((digest, diff_id, len(blob), MEDIA_OCI_LAYER_GZIP))
    make_image(store, layers, {"config": {"Cmd": ["sh"]}}, ["docker.io/library/benchbig:latest"])
    out = work / "big.tar"
    with open(out, "wb") as f:
        save(store, ["docker.io/library/benchbig:latest"], f)
    return out, len(layer) + sum(x[2] for x in layers[:1])


def timed(cmd: list[str], before: object = None) -> float:
    if callable(before):
        before()
    t = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    return time.perf_counter() - t


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--size-mb", type=int, default=96)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--containers", type=int, default=20)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="pallet-bench-images-"))
    try:
        archive, unpacked = make_archive(work, args.size_mb)
        print(f"test image: {unpacked / 1e6:.0f} MB unpacked, archive {archive.stat().st_size / 1e6:.0f} MB")
        results: dict[str, list[float]] = {"pallet load": [], "podman load": [], "skopeo copy (no unpack)": []}
        for run in range(args.runs):
            r = work / f"p{run}"
            results["pallet load"].append(timed([PALLET, "--root", str(r / "root"), "--runroot", str(r / "run"),
                                                 "load", "-q", "-i", str(archive)]))
            if shutil.which("podman"):
                pr = work / f"podman{run}"
                try:
                    results["podman load"].append(timed(
                        ["podman", "--root", str(pr / "root"), "--runroot", str(pr / "run"),
                         "--storage-driver", "overlay", "--cgroup-manager", "cgroupfs", "load", "-q", "-i",
                         str(archive)]))
                finally:
                    subprocess.run(["podman", "--root", str(pr / "root"), "--runroot", str(pr / "run"),
                                    "--storage-driver", "overlay", "system", "reset", "-f"], capture_output=True)
            if shutil.which("skopeo"):
                results["skopeo copy (no unpack)"].append(timed(
                    ["skopeo", "copy", "--quiet", f"docker-archive:{archive}", f"oci:{work}/sk{run}:x"]))
        base = statistics.median(results["pallet load"])
        print(f"\nload of a docker-archive ({args.runs} runs, median):")
        for name, times in results.items():
            if times:
                med = statistics.median(times)
                ratio = f"pallet/peer {base / med:.2f}" if name != "pallet load" else ""
                print(f"  {name:<26} {med * 1000:8.0f} ms  {ratio}")

        store = ImageStore(work / "p0" / "root")
        snap = open_snapshotter(work / "p0" / "root" / "snapshots", "overlay")
        big = store.get("docker.io/library/benchbig:latest")
        bb = build_busybox(store)
        unpack(store, snap, bb)
        before = disk_usage(snap.root)[0]
        print(f"\ncontainer layers ({args.containers} each):")
        for name, image in (("busybox", bb), ("big image", big)):
            t = time.perf_counter()
            for i in range(args.containers):
                snap.prepare(f"{name}-{i}", image.chain_id)
            per = (time.perf_counter() - t) / args.containers
            print(f"  {name:<12} {per * 1000:6.2f} ms per container")
        after = disk_usage(snap.root)[0]
        print(f"  disk used by {2 * args.containers} container layers: {(after - before) / 1e3:.0f} kB "
              f"(the image: {unpacked / 1e6:.0f} MB, not copied)")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
