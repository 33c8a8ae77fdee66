"""Copy-on-write: the busybox image unpacked into snapshots, containers' layers mounted for real."""

from __future__ import annotations

import hashlib
import io
import os
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.helpers.layertar import LayerTar

from pallet.image.build_busybox import build_busybox
from pallet.image.diff import Change, changes, write_diff
from pallet.image.layers import apply_layer
from pallet.image.newimage import make_image, plain_layer, store_tar_layer
from pallet.image.snapshot import open_snapshotter
from pallet.image.snapshot.base import Snapshotter
from pallet.image.snapshot.mounting import mount_all, unmount_all
from pallet.image.store import ImageStore
from pallet.image.unpack import prepare_rootfs, unpack

pytestmark = pytest.mark.skipif(not os.path.exists("/bin/busybox"), reason="busybox-static not installed")


def _tree_hash(path: str) -> str:
    h = hashlib.sha256()
    for dirpath, dirnames, filenames in os.walk(path):
        dirnames.sort()
        for name in sorted(filenames + dirnames):
            p = os.path.join(dirpath, name)
            st = os.lstat(p)
            h.update(f"{os.path.relpath(p, path)} {st.st_mode} {st.st_uid} {st.st_size} {st.st_mtime_ns}".encode())
            if stat.S_ISREG(st.st_mode):
                with open(p, "rb") as f:
                    h.update(f.read())
    return h.hexdigest()


@pytest.fixture
def mounted(tmp_path: Path) -> Iterator[list[Path]]:
    """Mount points that are unmounted after the test, whatever happens."""
    targets: list[Path] = []
    yield targets
    for t in targets:
        unmount_all(str(t))


@pytest.mark.parametrize("driver", ["overlay", "vfs"])
def test_copy_on_write(driver: str, tmp_path: Path, mounted: list[Path]) -> None:
    images = ImageStore(tmp_path / "root")
    snap = open_snapshotter(tmp_path / "root" / "snapshots", driver)
    image = build_busybox(images)
    assert image.repo_tags == ["docker.io/library/busybox:latest"]
    top = unpack(images, snap, image)
    assert top == image.chain_id and snap.exists(top)
    if driver == "overlay" and subprocess.run(["lsattr", "-d", str(tmp_path)], capture_output=True).returncode == 0:
        # ext4 (tmp_path has inode flags): the layers' parent is marked as the top of unrelated trees
        flags = subprocess.run(["lsattr", "-d", snap.root], capture_output=True, text=True, check=True).stdout
        assert "T" in flags.split()[0]
    layer_dir = snap.upper_dir(top)
    before = _tree_hash(layer_dir)

    mounts = prepare_rootfs(images, snap, image, "ctr1")
    mounts2 = prepare_rootfs(images, snap, image, "ctr2")
    r1, r2 = tmp_path / "r1", tmp_path / "r2"
    r1.mkdir()
    r2.mkdir()
    mount_all(mounts, str(r1))
    mounted.append(r1)
    mount_all(mounts2, str(r2))
    mounted.append(r2)
    assert (r1 / "bin/busybox").is_file()
    (r1 / "etc/passwd").write_text("changed\n")
    (r1 / "etc/group").unlink()
    (r1 / "new").mkdir()
    (r1 / "new/file").write_text("n")
    out = subprocess.run(["chroot", str(r1), "/bin/cat", "/etc/passwd"], capture_output=True, text=True, check=True)
    assert out.stdout == "changed\n"
    assert (r2 / "etc/passwd").read_text().startswith("root:")
    assert (r2 / "etc/group").exists()
    unmount_all(str(r1))
    unmount_all(str(r2))
    mounted.clear()

    assert _tree_hash(layer_dir) == before
    upper = snap.upper_dir("ctr1")
    if driver == "overlay":
        assert sorted(os.listdir(upper)) == ["etc", "new"]
        assert sorted(os.listdir(os.path.join(upper, "etc"))) == ["group", "passwd"]
        assert os.lstat(os.path.join(upper, "etc/group")).st_rdev == 0
        assert os.listdir(snap.upper_dir("ctr2")) == []
    got = changes(upper, snap.lower_dirs("ctr1"), snap.whiteouts)
    assert got == [Change("C", "/etc"), Change("D", "/etc/group"), Change("C", "/etc/passwd"),
                   Change("A", "/new"), Change("A", "/new/file")]

    # The diff as a layer: applied on the image it gives the container's tree.
    buf = io.BytesIO()
    diff_id, size = write_diff(upper, snap.lower_dirs("ctr1"), buf, snap.whiteouts)
    assert size == len(buf.getvalue()) and diff_id == "sha256:" + hashlib.sha256(buf.getvalue()).hexdigest()
    digest, _ = store_tar_layer(images.content, io.BytesIO(buf.getvalue()))
    cfg = images.config(image)
    new = make_image(images, [*((x["digest"], x["diff_id"], x["size"], x["media_type"]) for x in image.layers),
                              plain_layer(digest, len(buf.getvalue()))], cfg, ["localhost/committed:latest"])
    mounts3 = prepare_rootfs(images, snap, new, "ctr3")
    r3 = tmp_path / "r3"
    r3.mkdir()
    mount_all(mounts3, str(r3))
    mounted.append(r3)
    assert (r3 / "etc/passwd").read_text() == "changed\n"
    assert not (r3 / "etc/group").exists()
    assert (r3 / "new/file").read_text() == "n"
    assert (r3 / "bin/busybox").is_file()
    unmount_all(str(r3))
    mounted.clear()
    for key in ("ctr1", "ctr2", "ctr3"):
        snap.remove(key)


def test_diff_is_deterministic_and_roundtrips(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    layer = (LayerTar().dir("d", mode=0o750).file("d/a", b"aaa", uid=5, gid=6, xattrs={"user.x": "1"})
             .hardlink("d/b", "d/a").symlink("s", "d/a").node("p", b"6").bytes())
    apply_layer(io.BytesIO(layer), str(src))
    out1, out2 = io.BytesIO(), io.BytesIO()
    d1 = write_diff(str(src), [], out1)
    d2 = write_diff(str(src), [], out2)
    assert d1 == d2 and out1.getvalue() == out2.getvalue()
    dst = tmp_path / "dst"
    dst.mkdir()
    apply_layer(io.BytesIO(out1.getvalue()), str(dst))
    assert _tree_hash(str(src)) == _tree_hash(str(dst))
    assert (dst / "d/a").stat().st_ino == (dst / "d/b").stat().st_ino
    assert os.getxattr(dst / "d/a", "user.x") == b"1"


def test_long_layer_chain_fits(tmp_path: Path, mounted: list[Path]) -> None:
    """130 layers: the mount options stay under a page thanks to the short l/ names."""
    snap: Snapshotter = open_snapshotter(tmp_path / "s", "overlay")
    parent = None
    for i in range(130):
        snap.prepare(f"e{i}", parent)
        Path(snap.upper_dir(f"e{i}"), f"f{i}").write_text(str(i))
        snap.commit(f"l{i}", f"e{i}")
        parent = f"l{i}"
    mounts = snap.prepare("c", parent)
    target = tmp_path / "m"
    target.mkdir()
    mount_all(mounts, str(target))
    mounted.append(target)
    assert (target / "f0").read_text() == "0" and (target / "f129").read_text() == "129"
    unmount_all(str(target))
    mounted.clear()
