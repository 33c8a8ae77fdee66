"""Archives: save -> load round trips (tar and directory), skopeo interop, corrupt archives."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from pallet.errors import NotFoundError
from pallet.image.archive import ArchiveError, load, save
from pallet.image.build_busybox import build_busybox
from pallet.image.snapshot import open_snapshotter
from pallet.image.store import ImageStore
from pallet.image.unpack import unpack

pytestmark = pytest.mark.skipif(not os.path.exists("/bin/busybox"), reason="busybox-static not installed")
REF = "docker.io/library/busybox:latest"


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> ImageStore:
    store = ImageStore(tmp_path_factory.mktemp("src"))
    img = build_busybox(store)
    store.tag(img.id, "docker.io/library/busybox:v2")
    return store


def test_tar_roundtrip(source: ImageStore, tmp_path: Path) -> None:
    img = source.get(REF)
    out = tmp_path / "bb.tar"
    with open(out, "wb") as f:
        save(source, [REF, "docker.io/library/busybox:v2"], f)
    with tarfile.open(out) as tf:
        names = set(tf.getnames())
        manifest = json.load(tf.extractfile("manifest.json"))  # type: ignore[arg-type]
    assert {"manifest.json", "index.json", "oci-layout", "repositories"} <= names
    assert manifest[0]["RepoTags"] == ["busybox:latest", "busybox:v2"]
    dest = ImageStore(tmp_path / "dest")
    [loaded] = load(dest, str(out))
    assert loaded.id == img.id
    assert sorted(dest.get(REF).repo_tags) == [REF, "docker.io/library/busybox:v2"]
    snap = open_snapshotter(tmp_path / "dest/snapshots", "overlay")
    top = unpack(dest, snap, loaded)
    assert top is not None and os.path.isfile(os.path.join(snap.upper_dir(top), "bin/busybox"))


def test_dir_roundtrip_and_stdin(source: ImageStore, tmp_path: Path) -> None:
    img = source.get(REF)
    d = tmp_path / "layout"
    save(source, [img.id], str(d))
    assert json.loads((d / "manifest.json").read_text())[0]["RepoTags"] == []
    dest = ImageStore(tmp_path / "dest")
    [loaded] = load(dest, str(d))
    assert loaded.id == img.id and loaded.repo_tags == []
    buf = io.BytesIO()
    save(source, [REF], buf)
    dest2 = ImageStore(tmp_path / "dest2")
    [again] = load(dest2, "-", stdin=io.BytesIO(buf.getvalue()))
    assert again.repo_tags == [REF]


@pytest.fixture
def skopeo_cache_cleanup() -> Iterator[None]:
    """skopeo keeps a blob-info cache in /var/lib/containers (as root) whatever it copies: remove it
    if this test made it."""
    made = not os.path.exists("/var/lib/containers")
    yield
    if made:
        shutil.rmtree("/var/lib/containers", ignore_errors=True)


@pytest.mark.skipif(shutil.which("skopeo") is None, reason="skopeo not installed")
def test_skopeo_reads_ours_and_we_read_skopeos(source: ImageStore, tmp_path: Path, skopeo_cache_cleanup: None) -> None:
    img = source.get(REF)
    tar = tmp_path / "bb.tar"
    with open(tar, "wb") as f:
        save(source, [REF], f)
    oci = tmp_path / "oci"
    subprocess.run(["skopeo", "copy", "--quiet", f"docker-archive:{tar}", f"oci:{oci}:busybox:latest"],
                   check=True, capture_output=True)
    dest = ImageStore(tmp_path / "dest")
    [loaded] = load(dest, str(oci))
    # skopeo rewrites the config for OCI (so the id changes); the layers and settings stay.
    assert loaded.diff_ids == img.diff_ids
    assert dest.config(loaded)["config"]["Cmd"] == ["sh"]
    snap = open_snapshotter(tmp_path / "dest/snapshots", "overlay")
    unpack(dest, snap, loaded)
    darch = tmp_path / "skopeo.tar"
    subprocess.run(["skopeo", "copy", "--quiet", f"oci:{oci}:busybox:latest", f"docker-archive:{darch}:busybox:sk"],
                   check=True, capture_output=True)
    dest3 = ImageStore(tmp_path / "dest3")
    [fromdocker] = load(dest3, str(darch))
    assert fromdocker.diff_ids == img.diff_ids and fromdocker.repo_tags == ["docker.io/library/busybox:sk"]
    assert dest3.config(fromdocker)["config"]["Env"] == source.config(img)["config"]["Env"]


def test_corrupt_archives(source: ImageStore, tmp_path: Path) -> None:
    buf = io.BytesIO()
    save(source, [REF], buf)
    data = buf.getvalue()
    dest = ImageStore(tmp_path / "dest")
    bad = tmp_path / "truncated.tar"
    bad.write_bytes(data[: len(data) // 2])
    with pytest.raises(ArchiveError, match=str(bad)):
        load(dest, str(bad))
    assert dest.list() == []
    # a blob whose bytes do not match its name
    d = tmp_path / "layout"
    save(source, [REF], str(d))
    layer = next(p for p in (d / "blobs/sha256").iterdir() if p.stat().st_size > 100_000)
    os.unlink(layer)
    layer.write_bytes(b"not the layer")
    with pytest.raises(ArchiveError, match="mismatch"):
        load(dest, str(d))
    assert dest.list() == []
    junk = tmp_path / "junk.tar"
    junk.write_bytes(b"x" * 1000)
    with pytest.raises(ArchiveError, match="not a readable tar"):
        load(dest, str(junk))
    with pytest.raises(NotFoundError, match="does not exist"):
        load(dest, str(tmp_path / "missing.tar"))
    # and the next good attempt works
    good = tmp_path / "good.tar"
    good.write_bytes(data)
    assert load(dest, str(good))[0].repo_tags == [REF]
