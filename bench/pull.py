"""Pull an image from a local registry into an empty store: pallet beside skopeo and podman.

    .venv/bin/python bench/pull.py [--size-mb 96] [--layers 4] [--runs 5]

Starts Debian's docker-registry on 127.0.0.1, pushes a test image (a busybox layer and ``--layers``
layers of ``--size-mb`` in all, half random and half text, gzip-compressed) with pallet, then times,
each from an empty destination, ``--runs`` times:

- ``pallet pull``       (the CLI: interpreter start, manifest, blobs verified into the content store);
- ``skopeo copy docker://... dir:``   (the same work: blobs to a directory, digests checked);
- ``podman pull``       (also extracts the layers into its storage: more work than the others).

Prints the median of each and pallet's time as a ratio of the peer's.  Only loopback is contacted.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import json
import os
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.helpers.registry import make_image, start_registry  # noqa: E402
from tests.helpers.rootfs import make_busybox_rootfs  # noqa: E402

from pallet.image.registry.push import push  # noqa: E402
from pallet.image.store import ImageStore  # noqa: E402

PALLET = str(ROOT / ".venv" / "bin" / "pallet")


def add_layers(store: ImageStore, ref: str, size: int, count: int, workdir: Path) -> None:
    """Re-record the image ``ref`` with ``count`` extra layers of ``size`` bytes in all."""
    image = store.get(ref)
    manifest = json.loads(store.content.read(image.manifest_digest))
    config = json.loads(store.content.read(image.config_digest))
    text = (Path(__file__).read_bytes() * 64)[: 1 << 20]
    for i in range(count):
        raw = io.BytesIO()
        with tarfile.open(fileobj=raw, mode="w") as tar:
            per = size // count
            data = os.urandom(per // 2) + (text * (per // 2 // len(text) + 1))[: per // 2]
            info = tarfile.TarInfo(f"data/layer{i}.bin")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        compressed = gzip.compress(raw.getvalue(), compresslevel=1)
        digest = store.content.add_bytes(compressed)
        manifest["layers"].append({"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                                   "digest": digest, "size": len(compressed)})
        config["rootfs"]["diff_ids"].append("sha256:" + hashlib.sha256(raw.getvalue()).hexdigest())
        config["history"].append({"created_by": f"bench layer {i}"})
    config_bytes = json.dumps(config).encode()
    manifest["config"] = {"mediaType": manifest["config"]["mediaType"], "size": len(config_bytes),
                          "digest": "sha256:" + hashlib.sha256(config_bytes).hexdigest()}
    store.add_image(json.dumps(manifest).encode(), config_bytes, [ref])


def timed(cmd: list[str], before: object = None) -> float:
    t = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    elapsed = time.perf_counter() - t
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}): {proc.stderr.strip()[-500:]}")
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=int, default=96)
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    from _peers import compile_sources  # this script's directory: bench/

    compile_sources()
    work = Path(tempfile.mkdtemp(prefix="pallet-bench-pull-"))
    results: dict[str, list[float]] = {}
    try:
        rootfs = make_busybox_rootfs(work / "rootfs")
        with start_registry(work / "registry") as registry:
            ref = f"{registry.host}/bench/image:v1"
            store = ImageStore(work / "source")
            make_image(store, rootfs, ref)
            add_layers(store, ref, args.size_mb << 20, args.layers, work)
            image = store.get(ref)
            push(store, ref)
            total = sum(layer["size"] for layer in image.layers)
            print(f"image: {len(image.layers)} layers, {total / 1e6:.1f} MB compressed, registry {registry.host}")

            def fresh(name: str) -> Path:
                d = work / name
                shutil.rmtree(d, ignore_errors=True)
                return d

            peers: dict[str, object] = {
                "pallet pull": lambda: timed([PALLET, "--root", str(fresh("p")), "pull", "-q", ref]),
            }
            if shutil.which("skopeo"):
                peers["skopeo copy"] = lambda: timed(
                    ["skopeo", "copy", "-q", "--src-tls-verify=false", f"docker://{ref}", f"dir:{fresh('s')}"])
            if shutil.which("podman"):
                def podman() -> float:
                    d = fresh("podman")
                    return timed(["podman", "--root", str(d / "root"), "--runroot", str(d / "run"),
                                  "--storage-driver", "vfs", "pull", "-q", "--tls-verify=false", ref])
                peers["podman pull"] = podman
            for name, fn in peers.items():
                try:
                    results[name] = [fn() for _ in range(args.runs)]  # type: ignore[operator]
                except RuntimeError as e:
                    print(f"{name}: skipped: {e}")
    finally:
        for d in (work / "podman",):
            if d.exists():
                subprocess.run(["podman", "--root", str(d / "root"), "--runroot", str(d / "run"),
                                "--storage-driver", "vfs", "system", "reset", "-f"], capture_output=True)
        shutil.rmtree(work, ignore_errors=True)
    if "pallet pull" not in results:
        return 1
    mine = statistics.median(results["pallet pull"])
    print(f"{'tool':<14}{'median s':>10}{'min s':>10}{'pallet/peer':>13}")
    for name, times in results.items():
        med = statistics.median(times)
        ratio = "" if name == "pallet pull" else f"{mine / med:.2f}"
        print(f"{name:<14}{med:>10.3f}{min(times):>10.3f}{ratio:>13}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
