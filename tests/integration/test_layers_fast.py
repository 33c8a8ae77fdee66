"""The fast paths of layer apply: a new (empty) layer root, the directory cache, the host's gzip.

Into an empty root, paths are known new without a stat and owners and modes that creation already
gives are not set again; that must give exactly the tree the careful path gives (a root that was
not empty: every path checked, every owner and mode set) and `tar -x`, keep the order of the tar
where it matters, and keep every malicious-layer guarantee.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import random
import stat
import subprocess
import tarfile
from pathlib import Path

import pytest
from tests.helpers.layertar import LayerTar
from tests.integration.test_layers_apply import MALICIOUS, _snapshot

from pallet.image import compression
from pallet.image.layers import LayerError, apply_layer

FILLER = 48  # regular files before the interesting entries (directories cached, then dropped)


def _tree(root: Path) -> dict[str, tuple[object, ...]]:
    out: dict[str, tuple[object, ...]] = {}
    for p in sorted(root.rglob("*")):
        if p.name == "preexisting":
            continue
        st = p.lstat()
        if stat.S_ISLNK(st.st_mode):
            extra: object = os.readlink(p)
        elif stat.S_ISREG(st.st_mode):
            extra = hashlib.sha256(p.read_bytes()).hexdigest()
        else:
            extra = (st.st_rdev, os.getxattr(p, "trusted.overlay.opaque") if os.listxattr(p) else b"")
        # Directories made implicitly and whiteout devices get the time of the apply: not compared.
        mtime = None if stat.S_ISDIR(st.st_mode) or stat.S_ISCHR(st.st_mode) else st.st_mtime_ns
        out[str(p.relative_to(root))] = (stat.S_IFMT(st.st_mode), stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid,
                                         mtime, st.st_nlink, extra)
    return out


def _filler(t: LayerTar, n: int = FILLER) -> LayerTar:
    for i in range(n):
        t.file(f"fill/d{i % 4}/f{i}", bytes([65 + i % 26]) * (100 + i), mode=0o644, mtime=1_600_000_000 + i)
    return t


def _tricky() -> bytes:
    """Entries whose order matters: later ones replace what earlier ones made."""
    big = random.Random(1).randbytes((4 << 20) + 4096)
    t = _filler(LayerTar())
    (t.file("same", b"first", mode=0o600)
     .file("same", b"second", mode=0o644)                 # replaces a file of this layer
     .file("linked", b"target data", mode=0o640, uid=7, gid=8)
     .hardlink("hard", "linked")
     .file("becomes-link", b"data")
     .symlink("becomes-link", "same")                     # a symlink replaces a file
     .file("dir-then-file/inner", b"x")
     .file("dir-then-file", b"now a file")                # a file replaces a directory (made implicitly)
     .file("gone", b"to be whited out")
     .file(".wh.gone")                                    # whiteout of a file of this layer (overlay form)
     .file(".wh.back")
     .file("back", b"a whiteout replaced")                # a file replaces a whiteout of this layer
     .dir("sgid", mode=0o2775, gid=50)
     .file("sgid/child", b"in a setgid dir", uid=0, gid=0)  # gid must be the entry's, not inherited
     .file("setuid", b"\x7fELF", mode=0o4755)
     .file("umasked", b"all bits", mode=0o777)            # bits a umask would take away
     .file("owned", b"o", uid=1000, gid=1001, mode=0o640, mtime=1_234_567_890)
     .dir("ro", mode=0o555)
     .file("ro/inside", b"root writes into a read-only directory")
     .file("big", big, mode=0o644))
    return t.bytes()


def _apply(data: bytes, dest: Path, fresh: bool = True, **kw: object) -> object:
    """Apply ``data`` to ``dest``: empty (the fast path), or holding one unrelated file (the careful path)."""
    dest.mkdir(exist_ok=True)
    if not fresh:
        (dest / "preexisting").write_bytes(b"")
    return apply_layer(io.BytesIO(data), str(dest), **kw)  # type: ignore[arg-type]


def test_fast_path_gives_the_careful_tree(tmp_path: Path) -> None:
    data = _tricky()
    careful = _apply(data, tmp_path / "seq", fresh=False)
    fast = _apply(data, tmp_path / "par")
    assert careful.diff_id == fast.diff_id  # type: ignore[attr-defined]
    assert _tree(tmp_path / "seq") == _tree(tmp_path / "par")
    root = tmp_path / "par"
    assert (root / "same").read_bytes() == b"second"
    assert os.readlink(root / "becomes-link") == "same"
    assert (root / "dir-then-file").read_bytes() == b"now a file"
    assert (root / "hard").stat().st_ino == (root / "linked").stat().st_ino
    assert ((root / "linked").stat().st_uid, (root / "linked").stat().st_gid) == (7, 8)
    assert stat.S_ISCHR((root / "gone").lstat().st_mode) and (root / "gone").lstat().st_rdev == 0
    assert (root / "back").read_bytes() == b"a whiteout replaced"
    assert (root / "sgid").stat().st_mode & 0o7777 == 0o2775 and (root / "sgid").stat().st_gid == 50
    assert (root / "sgid" / "child").stat().st_gid == 0
    assert (root / "setuid").stat().st_mode & 0o7777 == 0o4755
    assert (root / "umasked").stat().st_mode & 0o7777 == 0o777
    assert (root / "owned").stat().st_mtime_ns == 1_234_567_890 * 10**9
    assert (root / "ro").stat().st_mode & 0o7777 == 0o555
    assert (root / "sgid").stat().st_mtime_ns == (tmp_path / "seq" / "sgid").stat().st_mtime_ns == 1_600_000_000 * 10**9


def test_same_tree_as_tar(tmp_path: Path) -> None:
    """GNU tar as root with numeric owners and permissions extracts the same tree (whiteouts aside)."""
    t = _filler(LayerTar())
    (t.dir("etc", mode=0o755).file("etc/passwd", b"root:x:0:0::/root:/bin/sh\n")
     .dir("opt", mode=0o2750, uid=3, gid=4).file("opt/tool", b"t", mode=0o4711, uid=5, gid=6)
     .symlink("etc/link", "passwd").hardlink("etc/hard", "etc/passwd"))
    data = t.bytes()
    _apply(data, tmp_path / "ours")
    (tmp_path / "tar").mkdir()
    subprocess.run(["tar", "-x", "--numeric-owner", "--same-permissions", "-C", str(tmp_path / "tar")],
                   input=data, check=True)
    assert _tree(tmp_path / "ours") == _tree(tmp_path / "tar")


def _with_filler(data: bytes) -> bytes:
    """``data`` (a tar) after FILLER regular files, in one archive."""
    head = _filler(LayerTar()).bytes().rstrip(b"\0")
    head += b"\0" * (-len(head) % 512)
    return head + data


@pytest.mark.parametrize("case", sorted(c for c in MALICIOUS if MALICIOUS[c][0] is not None))
def test_malicious_layers_refused_after_cached_directories(case: str, tmp_path: Path) -> None:
    root = tmp_path / "root"
    outside = tmp_path / "root-outside"
    outside.mkdir()
    (outside / "secret").write_text("keep")
    data, message = MALICIOUS[case]
    assert data is not None
    before = _snapshot(outside)
    with pytest.raises(LayerError, match=message):
        _apply(_with_filler(data), root, size_limit=8 << 20)
    assert _snapshot(outside) == before
    for p in root.rglob("*"):
        if not p.is_symlink():
            assert p.resolve().is_relative_to(root)


def test_cached_directory_replaced_by_symlink(tmp_path: Path) -> None:
    """A directory the cache holds, replaced by a symlink: later entries follow the symlink (inside)."""
    root = tmp_path / "root"
    outside = tmp_path / "root-outside"
    outside.mkdir()
    t = _filler(LayerTar()).dir("a").file("a/one", b"1").dir("b").symlink("a", "b").file("a/two", b"2")
    _apply(t.bytes(), root)
    assert (root / "b" / "two").read_bytes() == b"2"
    assert os.readlink(root / "a") == "b"
    t = _filler(LayerTar()).dir("x").file("x/f", b"f").symlink("x", "../root-outside").file("x/evil", b"no")
    with pytest.raises(LayerError, match="leads outside"):
        _apply(t.bytes(), tmp_path / "root2")
    assert list(outside.iterdir()) == []


def _big_gzip_layer(tail_zeros: int = 0) -> tuple[bytes, bytes]:
    """(tar, gzip of it): incompressible data past HOST_GZIP_MIN, so the host's gzip is used."""
    rng = random.Random(7)
    t = LayerTar()
    for i in range(3):
        t.file(f"r{i}", rng.randbytes(compression.HOST_GZIP_MIN // 2 + 1000))
    if tail_zeros:
        t.file("zeros", bytes(tail_zeros))
    raw = t.bytes()
    return raw, gzip.compress(raw, compresslevel=1)


class _SeenHost(compression.HostGzip):
    made = 0

    def __init__(self, *args: object) -> None:
        type(self).made += 1
        super().__init__(*args)  # type: ignore[arg-type]


@pytest.mark.skipif(compression.host_gzip() is None, reason="no gzip decompressor on the host")
def test_host_gzip_layer(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    raw, blob = _big_gzip_layer()
    monkeypatch.setattr(compression, "HostGzip", _SeenHost)
    result = apply_layer(io.BytesIO(blob), str(tmp_path), expected_diff_id="sha256:" + hashlib.sha256(raw).hexdigest())
    assert _SeenHost.made == 1
    assert result.size == len(raw)
    with tarfile.open(fileobj=io.BytesIO(raw)) as tf:
        for m in tf:
            src = tf.extractfile(m)
            assert src is not None and (tmp_path / m.name).read_bytes() == src.read()
    monkeypatch.setenv("PALLET_HOST_GZIP", "0")
    stream, kind = compression.decompressed(io.BytesIO(blob))
    assert kind == "gzip" and not isinstance(stream, compression.HostGzip)
    assert hashlib.sha256(stream.read()).digest() == hashlib.sha256(raw).digest()


@pytest.mark.skipif(compression.host_gzip() is None, reason="no gzip decompressor on the host")
@pytest.mark.parametrize("fault", ["truncated", "corrupt", "bomb"])
def test_host_gzip_faults(fault: str, tmp_path: Path) -> None:
    """Each fails with a clear error; the child decompressor is ended and reaped (the leak check
    fails a test that leaves a child process)."""
    _, blob = _big_gzip_layer(tail_zeros=(64 << 20) if fault == "bomb" else 0)
    if fault == "truncated":
        blob = blob[: len(blob) - 5000]
        match = "not a valid tar|unexpected end|gzip"
    elif fault == "corrupt":
        mid = len(blob) // 2
        blob = blob[:mid] + bytes(b ^ 0x55 for b in blob[mid:mid + 64]) + blob[mid + 64:]
        match = "not a valid tar"
    else:
        match = "exceeds the (layer size )?limit"
    with pytest.raises(LayerError, match=match):
        apply_layer(io.BytesIO(blob), str(tmp_path), size_limit=8 << 20)


@pytest.mark.parametrize("compressed", [False, True])
def test_reader_thread_stopped_on_early_error(compressed: bool, tmp_path: Path) -> None:
    """A bad entry early in a big layer: the reader thread (ahead of the parser, its queue full) and a
    child decompressor are stopped and reaped; nothing keeps reading the stream afterwards."""
    import threading

    t = LayerTar().file("ok", b"fine").symlink("up", "..").file("up/evil", b"no")
    t.file("after", random.Random(5).randbytes(40 << 20))
    raw = t.bytes()
    blob = gzip.compress(raw, compresslevel=1) if compressed else raw
    stream = io.BytesIO(blob)
    with pytest.raises(LayerError, match="leads outside"):
        apply_layer(stream, str(tmp_path))
    assert not any(th.name == "layer-read" for th in threading.enumerate())
    assert stream.tell() < len(blob)  # stopped early: not read to the end
    assert not (tmp_path / "after").exists()


def test_tar_formats_and_truncation(tmp_path: Path) -> None:
    """GNU tar's own archives (long names, a sparse file: read through tarfile's file object, the
    rest directly) give the same tree as tar -x; a plain layer cut anywhere is a LayerError."""
    src = tmp_path / "src"
    (src / ("d" * 120)).mkdir(parents=True)
    (src / ("d" * 120) / ("f" * 150)).write_bytes(b"long name\n")
    with open(src / "sparse", "wb") as f:
        f.truncate(3 << 20)
        f.seek(1 << 20)
        f.write(b"in the middle")
        f.seek((3 << 20) - 5)
        f.write(b"end!\n")
    (src / "small").write_bytes(b"s" * 1000)
    for fmt in ("gnu", "posix"):
        data = subprocess.run(["tar", "-S", f"--format={fmt}", "-C", str(src), "-cf", "-", "."],
                              check=True, capture_output=True).stdout
        ours, theirs = tmp_path / f"ours-{fmt}", tmp_path / f"tar-{fmt}"
        _apply(data, ours)
        theirs.mkdir()
        subprocess.run(["tar", "-C", str(theirs), "-xf", "-"], input=data, check=True)
        assert _tree(ours) == _tree(theirs)
        assert (ours / "sparse").read_bytes() == (src / "sparse").read_bytes()
    raw = LayerTar().file("a", b"x" * 5000).file("b", b"y" * 3000).bytes()
    for cut in (100, 512, 512 + 2000, 512 + 5120 + 300):
        with pytest.raises(LayerError, match=r"not a valid tar|unexpected end|truncated"):
            _apply(raw[:cut], tmp_path / f"cut-{cut}")
    _apply(raw[:512 + 5120], tmp_path / "at-a-boundary")  # ends after an entry, without the zero blocks
    assert (tmp_path / "at-a-boundary" / "a").read_bytes() == b"x" * 5000
    bad = bytearray(raw)
    bad[512 + 5120 + 10] ^= 0xFF  # the second header's checksum no longer matches
    with pytest.raises(LayerError, match="invalid tar header at byte 5632"):
        _apply(bytes(bad), tmp_path / "bad-header")
