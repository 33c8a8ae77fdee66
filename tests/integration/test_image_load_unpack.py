"""`load` with a snapshotter: each layer stored and applied in one read of the archive.

The snapshots made while loading must be the ones `unpack` makes from the stored blobs, for every
archive form (docker-archive with blob names or legacy ``<id>/layer.tar``, OCI layout; gzip and
plain layers), and a bad layer or blob must leave nothing: no blob, no snapshot, no image.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import random
import stat
import tarfile
import threading
from pathlib import Path

import pytest
from tests.helpers.layertar import LayerTar

from pallet.image.archive import ArchiveError, load, save
from pallet.image.layers import LayerError
from pallet.image.newimage import make_image, plain_layer, store_tar_layer
from pallet.image.snapshot import open_snapshotter
from pallet.image.snapshot.base import Snapshotter
from pallet.image.store import MEDIA_OCI_LAYER_GZIP, ImageStore, chain_ids
from pallet.image.unpack import unpack

REF = "docker.io/library/twolayers:latest"


def _layers() -> tuple[bytes, bytes]:
    rng = random.Random(3)
    one = (LayerTar().dir("etc").file("etc/os", b"one\n").file("big", rng.randbytes(3 << 20))
           .file("gone", b"x").file("keep", b"k", mode=0o600, uid=5, gid=6).bytes())
    two = LayerTar().file(".wh.gone").file("etc/os", b"two\n").file("mine", b"m").hardlink("mine2", "mine").bytes()
    return one, two


def _source(tmp_path: Path) -> ImageStore:
    """An image of a gzip layer (large: the host's gzip decompresses it) and a plain one."""
    store = ImageStore(tmp_path / "src")
    one, two = _layers()
    gz = gzip.compress(one, compresslevel=1)
    gz_digest = store.content.ingest(gz, "sha256:" + hashlib.sha256(gz).hexdigest())
    two_digest, two_size = store_tar_layer(store.content, io.BytesIO(two))
    make_image(store, [(gz_digest, "sha256:" + hashlib.sha256(one).hexdigest(), len(gz), MEDIA_OCI_LAYER_GZIP),
                       plain_layer(two_digest, two_size)], {"config": {"Cmd": ["sh"]}}, [REF])
    return store


def _tree(root: str) -> dict[str, tuple[object, ...]]:
    out: dict[str, tuple[object, ...]] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            p = os.path.join(dirpath, name)
            st = os.lstat(p)
            data = open(p, "rb").read() if os.path.isfile(p) and not os.path.islink(p) else b""
            # directories (made or changed by later entries) and whiteouts get the time of the apply
            mtime = 0 if stat.S_ISDIR(st.st_mode) or stat.S_ISCHR(st.st_mode) else st.st_mtime_ns
            out[os.path.relpath(p, root)] = (st.st_mode, st.st_uid, st.st_gid, st.st_nlink, st.st_rdev, mtime,
                                             hashlib.sha256(data).hexdigest())
    return out


def _snapshots(snap: Snapshotter, diff_ids: list[str]) -> list[dict[str, tuple[object, ...]]]:
    return [_tree(snap.upper_dir(c)) for c in chain_ids(diff_ids)]


def _legacy(archive: Path, out: Path) -> None:
    """The archive rewritten in docker 20's layout: ``<n>/layer.tar`` (plain), config ``<hex>.json``."""
    with tarfile.open(archive) as tf:
        manifest = json.load(tf.extractfile("manifest.json"))  # type: ignore[arg-type]
        entry = manifest[0]
        config = tf.extractfile(entry["Config"]).read()  # type: ignore[union-attr]
        layers = []
        for name in entry["Layers"]:
            data = tf.extractfile(name).read()  # type: ignore[union-attr]
            layers.append(gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data)
    with tarfile.open(out, "w") as tf:
        def add(name: str, data: bytes) -> None:
            ti = tarfile.TarInfo(name)
            ti.size = len(data)
            tf.addfile(ti, io.BytesIO(data))

        cfg_name = hashlib.sha256(config).hexdigest() + ".json"
        add(cfg_name, config)
        for i, data in enumerate(layers):
            add(f"{i}/layer.tar", data)
        add("manifest.json", json.dumps([{"Config": cfg_name, "RepoTags": ["twolayers:latest"],
                                          "Layers": [f"{i}/layer.tar" for i in range(len(layers))]}]).encode())


@pytest.mark.parametrize("form", ["docker-archive", "oci-dir", "legacy"])
def test_load_unpacks_while_storing(form: str, tmp_path: Path) -> None:
    source = _source(tmp_path)
    img = source.get(REF)
    archive = tmp_path / "a.tar"
    with open(archive, "wb") as f:
        save(source, [REF], f)
    where = str(archive)
    if form == "oci-dir":
        where = str(tmp_path / "layout")
        save(source, [REF], where)
        os.unlink(os.path.join(where, "manifest.json"))  # read as an OCI layout
    elif form == "legacy":
        where = str(tmp_path / "legacy.tar")
        _legacy(archive, Path(where))

    # reference: the blobs loaded, then unpacked from the store
    ref_store = ImageStore(tmp_path / "ref")
    [ref_img] = load(ref_store, where)
    ref_snap = open_snapshotter(tmp_path / "ref/snapshots", "overlay")
    unpack(ref_store, ref_snap, ref_img)

    dest = ImageStore(tmp_path / "dest")
    snap = open_snapshotter(tmp_path / "dest/snapshots", "overlay")
    [loaded] = load(dest, where, snapshotter=snap)
    assert loaded.diff_ids == img.diff_ids
    keys = [i.key for i in snap.list()]
    assert sorted(keys) == sorted(chain_ids(img.diff_ids))  # committed while loading; no extract-* left
    assert _snapshots(snap, img.diff_ids) == _snapshots(ref_snap, img.diff_ids)
    assert os.path.exists(os.path.join(snap.upper_dir(chain_ids(img.diff_ids)[1]), "gone"))  # the whiteout
    for layer in loaded.layers:  # every blob stored, and it is the archive's
        assert dest.content.has(layer["digest"])
        assert "sha256:" + hashlib.sha256(dest.content.read(layer["digest"])).hexdigest() == layer["digest"]
    assert dest.content.ingests() == [] and os.listdir(dest.content.ingest_dir) == []
    before = [i.created for i in snap.list()]
    assert unpack(dest, snap, loaded) == loaded.chain_id
    assert [i.created for i in snap.list()] == before  # nothing left to do
    # loading again: stored already, nothing applied again
    assert load(dest, where, snapshotter=snap)[0].id == loaded.id
    assert [i.created for i in snap.list()] == before


def _nothing_left(store: ImageStore, snap: Snapshotter) -> None:
    assert store.list() == []
    assert snap.list() == []
    assert [d for d in os.listdir(snap.root) if d not in ("l", "metadata.json", "metadata.lock")] == []
    assert os.listdir(store.content.ingest_dir) == []


def test_bad_layer_in_archive_leaves_nothing(tmp_path: Path) -> None:
    source = _source(tmp_path)
    d = tmp_path / "layout"
    save(source, [REF], str(d))
    img = source.get(REF)
    gz_path = d / "blobs/sha256" / img.layers[0]["digest"][7:]
    good = gz_path.read_bytes()
    dest = ImageStore(tmp_path / "dest")
    snap = open_snapshotter(tmp_path / "dest/snapshots", "overlay")

    # corrupt gzip data, under its own (right) digest: the decompressor's error, nothing half-made
    mid = len(good) // 2
    bad = good[:mid] + bytes(b ^ 0x55 for b in good[mid:mid + 64]) + good[mid + 64:]
    os.unlink(gz_path)
    fixed = d / "blobs/sha256" / hashlib.sha256(bad).hexdigest()
    fixed.write_bytes(bad)
    manifest = json.loads((d / "manifest.json").read_text())
    manifest[0]["Layers"][0] = f"blobs/sha256/{fixed.name}"
    (d / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(LayerError, match=r"not a valid tar archive|gzip|unpigz"):
        load(dest, str(d), snapshotter=snap)
    _nothing_left(dest, snap)
    assert not dest.content.has("sha256:" + fixed.name)
    assert not any(t.name == "layer-read" for t in threading.enumerate())

    # bytes that apply fine (the right diffID) but do not match the blob's name: refused before commit
    os.unlink(fixed)
    wrong = d / "blobs/sha256" / ("0" * 64)
    wrong.write_bytes(good)
    manifest[0]["Layers"][0] = f"blobs/sha256/{wrong.name}"
    (d / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ArchiveError, match="mismatch"):
        load(dest, str(d), snapshotter=snap)
    _nothing_left(dest, snap)

    # and the good archive loads
    os.unlink(wrong)
    gz_path.write_bytes(good)
    manifest[0]["Layers"][0] = f"blobs/sha256/{gz_path.name}"
    (d / "manifest.json").write_text(json.dumps(manifest))
    [loaded] = load(dest, str(d), snapshotter=snap)
    assert sorted(i.key for i in snap.list()) == sorted(chain_ids(loaded.diff_ids))
