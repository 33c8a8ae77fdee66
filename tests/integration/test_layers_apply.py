"""Applying layers: the malicious table, and everything a real layer holds kept exactly."""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import stat
import subprocess
import tarfile
from pathlib import Path

import pytest
from tests.helpers.layertar import LayerTar

from pallet.image.layers import LayerError, apply_layer


def _snapshot(path: Path) -> dict[str, tuple[int, int, bytes]]:
    out = {}
    for p in sorted(path.rglob("*")):
        st = p.lstat()
        data = p.read_bytes() if p.is_file() and not p.is_symlink() else b""
        out[str(p.relative_to(path))] = (st.st_mode, st.st_size, data)
    return out


@pytest.fixture
def arena(tmp_path: Path) -> tuple[Path, Path]:
    """A layer root and, beside it, an "outside" that no layer may touch (a sibling with a shared prefix)."""
    root = tmp_path / "root"
    root.mkdir()
    outside = tmp_path / "root-outside"
    outside.mkdir()
    (outside / "secret").write_text("keep")
    return root, outside


def _bomb() -> bytes:
    """A small tar followed by 64 MB of zeros: the tar ends, the stream does not."""
    z = gzip.compress(bytes(64 << 20), compresslevel=9)
    head = gzip.compress(LayerTar().file("small", b"s").bytes())
    return head + z


MALICIOUS = {
    "dotdot": (LayerTar().file("../root-outside/secret", b"pwned").bytes(), "'..'"),
    "absolute": (LayerTar().file("/tmp/pallet-abs-evil", b"x").bytes(), "absolute"),
    "symlink-out-then-file": (
        LayerTar().symlink("up", "../root-outside").file("up/secret", b"pwned").bytes(), "leads outside"),
    "symlink-two-hops": (
        LayerTar().symlink("a", "b").symlink("b", "x/../../root-outside").file("a/secret", b"pwned").bytes(),
        "leads outside"),
    "symlink-deep-climb": (
        LayerTar().dir("d").symlink("d/up", "../../root-outside").file("d/up/new", b"pwned").bytes(), "leads outside"),
    "hardlink-out": (LayerTar().hardlink("h", "../root-outside/secret").bytes(), "'..'"),
    "hardlink-absolute": (LayerTar().hardlink("h", "/etc/passwd").bytes(), "absolute"),
    "hardlink-through-symlink-out": (
        LayerTar().symlink("s", "../root-outside").hardlink("h", "s/secret").bytes(), "leads outside"),
    "whiteout-dotdot": (LayerTar().file(".wh..", b"").bytes(), "whiteout"),
    "whiteout-dotdotdot": (LayerTar().file("etc/.wh...", b"").bytes(), "whiteout"),
    "device-node": (LayerTar().node("disk", tarfile.BLKTYPE, 254, 0).bytes(), "device"),
    "char-device": (LayerTar().node("mem", tarfile.CHRTYPE, 1, 1).bytes(), "device"),
    "overlay-xattr": (LayerTar().dir("d").file("d/f", b"", xattrs={"trusted.overlay.opaque": "y"}).bytes(),
                      "reserved for overlayfs"),
    "huge-header": (None, "exceeds the layer size limit"),
    "gzip-bomb": (None, "exceeds the limit"),
}


@pytest.mark.parametrize("case", sorted(MALICIOUS))
@pytest.mark.parametrize("mode", ["overlay", "direct"])
def test_malicious_layer_is_refused(case: str, mode: str, arena: tuple[Path, Path], tmp_path: Path) -> None:
    root, outside = arena
    data, message = MALICIOUS[case]
    if case == "huge-header":
        sparse = tmp_path / "sparse-src"
        sparse.mkdir()
        subprocess.run(["truncate", "-s", "20G", str(sparse / "big")], check=True)
        data = subprocess.run(["tar", "-S", "-C", str(sparse), "-cf", "-", "big"], check=True,
                              capture_output=True).stdout
        assert len(data) < 100_000
    elif case == "gzip-bomb":
        data = _bomb()
        assert len(data) < 100_000
    assert data is not None
    before = _snapshot(outside)
    host_tmp = set(os.listdir("/tmp"))
    with pytest.raises(LayerError, match=message) as exc:
        apply_layer(io.BytesIO(data), str(root), whiteouts=mode, size_limit=8 << 20)
    assert "entry" in str(exc.value)
    assert _snapshot(outside) == before
    assert set(os.listdir("/tmp")) - host_tmp == set()
    for p in root.rglob("*"):
        if p.is_symlink():
            continue
        assert p.resolve().is_relative_to(root)


def test_absolute_symlink_parent_resolves_inside_root(arena: tuple[Path, Path]) -> None:
    root, outside = arena
    layer = LayerTar().dir("etc").symlink("link", str(outside)).file("link/new", b"inside").bytes()
    apply_layer(io.BytesIO(layer), str(root), whiteouts="direct")
    assert not (outside / "new").exists()
    inside = root / str(outside).lstrip("/") / "new"
    assert inside.read_bytes() == b"inside"


def test_everything_kept(tmp_path: Path) -> None:
    root = tmp_path / "l"
    root.mkdir()
    layer = (
        LayerTar()
        .dir("bin", mode=0o755, mtime=1_500_000_000)
        .file("bin/su", b"\x7fELF", mode=0o4755, uid=0, gid=0)
        .file("home/app/notes", b"hello", mode=0o640, uid=1000, gid=1001, mtime=1_234_567_890,
              xattrs={"user.comment": "hi"})
        .symlink("bin/sh", "busybox")
        .hardlink("bin/su2", "bin/su")
        .node("run/fifo", tarfile.FIFOTYPE, mode=0o620)
        .dir("tmp", mode=0o1777)
        .bytes()
    )
    res = apply_layer(io.BytesIO(layer), str(root), expected_diff_id="sha256:" + hashlib.sha256(layer).hexdigest())
    assert res.size == len(layer) and res.entries == 7
    su = (root / "bin/su").stat()
    assert stat.S_IMODE(su.st_mode) == 0o4755
    notes = (root / "home/app/notes").stat()
    assert (notes.st_uid, notes.st_gid, stat.S_IMODE(notes.st_mode)) == (1000, 1001, 0o640)
    assert notes.st_mtime == 1_234_567_890
    assert os.getxattr(root / "home/app/notes", "user.comment") == b"hi"
    assert os.readlink(root / "bin/sh") == "busybox"
    assert (root / "bin/su2").stat().st_ino == su.st_ino
    assert stat.S_ISFIFO((root / "run/fifo").lstat().st_mode)
    assert stat.S_IMODE((root / "run/fifo").lstat().st_mode) == 0o620
    assert stat.S_IMODE((root / "tmp").stat().st_mode) == 0o1777
    assert (root / "bin").stat().st_mtime == 1_500_000_000


def test_devices_when_allowed(tmp_path: Path) -> None:
    layer = LayerTar().node("dev/null", tarfile.CHRTYPE, 1, 3, mode=0o666).bytes()
    apply_layer(io.BytesIO(layer), str(tmp_path), allow_devices=True)
    st = (tmp_path / "dev/null").lstat()
    assert stat.S_ISCHR(st.st_mode) and os.major(st.st_rdev) == 1 and os.minor(st.st_rdev) == 3


def test_whiteouts_overlay_form(tmp_path: Path) -> None:
    layer = LayerTar().dir("etc").file("etc/.wh.passwd").dir("var").file("var/.wh..wh..opq").bytes()
    apply_layer(io.BytesIO(layer), str(tmp_path), whiteouts="overlay")
    st = (tmp_path / "etc/passwd").lstat()
    assert stat.S_ISCHR(st.st_mode) and st.st_rdev == 0
    assert os.getxattr(tmp_path / "var", "trusted.overlay.opaque") == b"y"
    assert not (tmp_path / "var/.wh..wh..opq").exists()


def test_whiteouts_direct(tmp_path: Path) -> None:
    base = LayerTar().file("etc/passwd", b"root").file("etc/group", b"g").file("var/a", b"a").dir("var/b").bytes()
    apply_layer(io.BytesIO(base), str(tmp_path), whiteouts="direct")
    top = LayerTar().file("etc/.wh.passwd").dir("var").file("var/new", b"n").file("var/.wh..wh..opq").bytes()
    apply_layer(io.BytesIO(top), str(tmp_path), whiteouts="direct")
    assert sorted(os.listdir(tmp_path / "etc")) == ["group"]
    assert sorted(os.listdir(tmp_path / "var")) == ["new"]


@pytest.mark.parametrize("compress", ["gzip", "zstd", "none"])
def test_compressions_and_diff_id(compress: str, tmp_path: Path) -> None:
    layer = LayerTar().file("a", b"x" * 10000).bytes()
    diff_id = "sha256:" + hashlib.sha256(layer).hexdigest()
    if compress == "gzip":
        blob = gzip.compress(layer)
    elif compress == "zstd":
        from backports.zstd import compress as zc

        blob = zc(layer)
    else:
        blob = layer
    assert apply_layer(io.BytesIO(blob), str(tmp_path), expected_diff_id=diff_id).diff_id == diff_id
    other = tmp_path / "o"
    other.mkdir()
    with pytest.raises(LayerError, match="diffID mismatch"):
        apply_layer(io.BytesIO(blob), str(other), expected_diff_id="sha256:" + "0" * 64)


def test_corrupt_archives(tmp_path: Path) -> None:
    with pytest.raises(LayerError, match=r"not a tar|empty"):
        apply_layer(io.BytesIO(b""), str(tmp_path))
    with pytest.raises(LayerError, match="not a valid tar"):
        apply_layer(io.BytesIO(gzip.compress(b"garbage" * 100)), str(tmp_path))
    good = gzip.compress(LayerTar().file("a", b"x" * 100000).bytes())
    with pytest.raises(LayerError, match="not a valid tar"):
        apply_layer(io.BytesIO(good[: len(good) // 2]), str(tmp_path))
