"""Snapshotters: metadata and the mounts they describe (no mounting here)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from pallet.errors import ConfigError, ConflictError, NotFoundError
from pallet.image.snapshot import open_snapshotter
from pallet.image.snapshot.base import Mount
from pallet.image.snapshot.overlay import LINK_LEN, OverlaySnapshotter


def test_overlay_chain(tmp_path: Path) -> None:
    s = open_snapshotter(tmp_path, "overlay")
    assert isinstance(s, OverlaySnapshotter)
    m = s.prepare("extract-1")
    assert m == [Mount("bind", s.upper_dir("extract-1"), ["rbind", "rw"])]
    s.commit("layer1", "extract-1")
    s.prepare("extract-2", "layer1")
    s.commit("layer2", "extract-2")
    mounts = s.prepare("ctr", "layer2")
    assert len(mounts) == 1 and mounts[0].type == "overlay"
    opts = dict(o.split("=", 1) for o in mounts[0].options if "=" in o)
    lowers = opts["lowerdir"].split(":")
    assert [os.path.realpath(p) for p in lowers] == [s.upper_dir("layer2"), s.upper_dir("layer1")]
    assert all(len(os.path.basename(p)) == LINK_LEN for p in lowers)
    assert opts["upperdir"] == s.upper_dir("ctr")
    assert os.path.isdir(opts["workdir"])
    assert s.mounts("ctr") == mounts
    assert s.lower_dirs("ctr") == [s.upper_dir("layer2"), s.upper_dir("layer1")]
    with pytest.raises(ConflictError, match="parent of"):
        s.remove("layer2")
    with pytest.raises(ConflictError, match="committed"):
        s.mounts("layer2")
    view = s.view("v", "layer2")
    assert view[0].type == "overlay" and not any(o.startswith("upperdir=") for o in view[0].options)
    s.remove("v")
    s.remove("ctr")
    s.remove("layer2")
    s.remove("layer1")
    assert s.list() == []
    assert os.listdir(s.links) == []


def test_errors(tmp_path: Path) -> None:
    s = open_snapshotter(tmp_path, "vfs")
    with pytest.raises(NotFoundError, match="'nope'"):
        s.prepare("a", "nope")
    s.prepare("a")
    with pytest.raises(ConflictError, match="already exists"):
        s.prepare("a")
    with pytest.raises(ConflictError, match="only a committed one"):
        s.prepare("b", "a")
    with pytest.raises(NotFoundError):
        s.commit("x", "missing")
    with pytest.raises(ConfigError, match="not known"):
        open_snapshotter(tmp_path, "../evil")
    with pytest.raises(ConfigError, match="not known"):
        open_snapshotter(tmp_path, "btrfsx")


def test_vfs_copies_parent(tmp_path: Path) -> None:
    s = open_snapshotter(tmp_path, "vfs")
    s.prepare("e")
    Path(s.upper_dir("e"), "f").write_text("one")
    s.commit("l1", "e")
    m = s.prepare("c", "l1")
    assert m == [Mount("bind", s.upper_dir("c"), ["rbind", "rw"])]
    Path(s.upper_dir("c"), "f").write_text("two")
    assert Path(s.upper_dir("l1"), "f").read_text() == "one"
    size, inodes = s.usage("c")
    assert inodes == 1 and size > 0


def test_mount_dict_roundtrip() -> None:
    m = Mount("overlay", "overlay", ["lowerdir=/a"], "")
    assert Mount.from_dict(m.to_dict()) == m


def _flags(path: Path) -> int | None:
    import fcntl
    import struct

    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        buf = bytearray(8)
        fcntl.ioctl(fd, 0x80086601, buf, True)  # FS_IOC_GETFLAGS
        return int(struct.unpack_from("i", buf)[0])
    except OSError:
        return None
    finally:
        os.close(fd)


def test_mark_top_dir(tmp_path: Path) -> None:
    """The snapshots' parent marked as ext4's top of unrelated trees (chattr +T), where the filesystem has it."""
    from pallet.image.snapshot.base import mark_top_dir

    d = tmp_path / "snaps"
    d.mkdir()
    before = _flags(d)
    if before is None:
        pytest.skip("the filesystem of tmp_path has no inode flags")
    assert not before & 0x20000
    if not mark_top_dir(str(d)):
        assert _flags(d) == before  # refused (not ext4): nothing changed
        pytest.skip("the filesystem of tmp_path has no top-directory flag")
    assert _flags(d) == before | 0x20000  # FS_TOPDIR_FL added, the other flags kept
    assert mark_top_dir(str(d))  # already set: still true, unchanged
    assert _flags(d) == before | 0x20000
    assert not mark_top_dir(str(tmp_path / "missing"))
    (tmp_path / "file").write_bytes(b"")
    assert not mark_top_dir(str(tmp_path / "file"))
