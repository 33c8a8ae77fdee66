"""Idmapped bind mounts and the chown-copy fallback, checked from the host and from a user namespace."""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from pallet._linux.consts import CLONE_NEWUSER, MNT_DETACH
from pallet._linux.mount import umount2
from pallet._linux.ns import setns
from pallet.errors import RuntimeFailure
from pallet.runtime import idmap

MAP = [{"containerID": 0, "hostID": 100000, "size": 65536}]


@pytest.fixture
def userns_fd() -> Iterator[int]:
    fd = idmap.make_userns(MAP, MAP)
    yield fd
    os.close(fd)


def make_tree(root: Path) -> None:
    root.mkdir()
    (root / "rootfile").write_text("r")
    (root / "appfile").write_text("a")
    os.chown(root / "appfile", 1000, 1000)
    (root / "dir").mkdir()
    os.chown(root / "dir", 1000, 1000)


def test_idmapped_bind_shows_mapped_owners(tmp_path: Path, userns_fd: int) -> None:
    src, dst = tmp_path / "src", tmp_path / "dst"
    make_tree(src)
    dst.mkdir()
    assert idmap.supports_idmap(str(src), userns_fd)
    idmap.idmapped_bind(str(src), str(dst), userns_fd)
    try:
        # On the host the mount shows on-disk ids shifted by the mapping.
        assert os.stat(dst / "rootfile").st_uid == 100000
        assert os.stat(dst / "appfile").st_uid == 101000 and os.stat(dst / "appfile").st_gid == 101000
        # Inside the user namespace the mapped root sees its own ids, and what it writes lands as
        # the on-disk ids of the image.
        r, w = os.pipe()
        # The test directory's parents belong to the host's root, which the namespace does not map:
        # work relative to a directory fd opened before joining.
        dfd = os.open(dst, os.O_RDONLY | os.O_DIRECTORY)
        pid = os.fork()
        if pid == 0:
            try:
                os.close(r)
                setns(userns_fd, CLONE_NEWUSER)
                os.setresgid(0, 0, 0)
                os.setresuid(0, 0, 0)
                os.close(os.open("new", os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=dfd))
                os.chown("new", 1000, 1000, dir_fd=dfd)
                out: dict[str, object] = {
                    "root": os.stat("rootfile", dir_fd=dfd).st_uid, "app": os.stat("appfile", dir_fd=dfd).st_uid,
                    "dir": os.stat("dir", dir_fd=dfd).st_gid,
                }
            except BaseException as e:
                out = {"error": repr(e)}
            os.write(w, json.dumps(out).encode())
            os._exit(0)
        os.close(dfd)
        os.close(w)
        with os.fdopen(r) as f:
            seen = json.loads(f.read() or "{}")
        os.waitpid(pid, 0)
    finally:
        umount2(str(dst), MNT_DETACH)
    assert seen == {"root": 0, "app": 1000, "dir": 1000}
    assert os.stat(src / "new").st_uid == 1000 and os.stat(src / "rootfile").st_uid == 0
    assert not os.path.exists(dst / "rootfile")  # unmounted again


def test_supports_idmap_is_true_here_and_false_for_proc(tmp_path: Path) -> None:
    assert idmap.supports_idmap(str(tmp_path))
    assert not idmap.supports_idmap("/proc")


def test_chown_copy_shifts_owners_and_keeps_the_rest(tmp_path: Path) -> None:
    src = tmp_path / "src"
    make_tree(src)
    suid = src / "suid"
    suid.write_text("#!/bin/sh\n")
    os.chmod(suid, 0o4755)
    os.link(src / "appfile", src / "hardlink")
    (src / "link").symlink_to("/etc/passwd")
    os.mkfifo(src / "fifo")
    os.mknod(src / "null", stat.S_IFCHR | 0o666, os.makedev(1, 3))
    os.setxattr(src / "rootfile", "user.note", b"kept")
    caps_v2 = (0x02000000 | 1).to_bytes(4, "little") + (1 << 10).to_bytes(4, "little") + bytes(12)
    os.setxattr(src / "suid", "security.capability", caps_v2)
    os.utime(src / "rootfile", ns=(1_000_000_000, 2_000_000_000))
    dest = tmp_path / "dest"

    idmap.chown_copy(str(src), str(dest), MAP, MAP)

    assert os.stat(dest).st_uid == 100000
    assert os.stat(dest / "rootfile").st_uid == 100000 and os.stat(dest / "appfile").st_uid == 101000
    assert os.stat(dest / "dir").st_gid == 101000
    assert stat.S_IMODE(os.stat(dest / "suid").st_mode) == 0o4755
    assert os.stat(dest / "hardlink").st_ino == os.stat(dest / "appfile").st_ino
    assert os.readlink(dest / "link") == "/etc/passwd" and os.lstat(dest / "link").st_uid == 100000
    assert stat.S_ISFIFO(os.stat(dest / "fifo").st_mode)
    assert os.stat(dest / "null").st_rdev == os.makedev(1, 3)
    assert os.getxattr(dest / "rootfile", "user.note") == b"kept"
    assert os.stat(dest / "rootfile").st_mtime_ns == 2_000_000_000
    caps = os.getxattr(dest / "suid", "security.capability")
    assert int.from_bytes(caps[:4], "little") >> 24 == 3 and int.from_bytes(caps[20:24], "little") == 100000
    assert (dest / "rootfile").read_text() == "r"
    assert os.stat(src / "appfile").st_uid == 1000  # the source is untouched


def test_shift_owners_in_place(tmp_path: Path) -> None:
    root = tmp_path / "tree"
    make_tree(root)
    os.chmod(root / "rootfile", 0o2755)
    changed = idmap.shift_owners(str(root), MAP, MAP)
    assert changed == 4
    assert os.stat(root).st_uid == 100000 and os.stat(root / "appfile").st_uid == 101000
    assert stat.S_IMODE(os.stat(root / "rootfile").st_mode) == 0o2755


def test_chown_copy_refuses_an_unmapped_owner(tmp_path: Path) -> None:
    src = tmp_path / "src"
    make_tree(src)
    os.chown(src / "appfile", 70000, 0)
    with pytest.raises(RuntimeFailure, match="uid 70000 has no mapping"):
        idmap.chown_copy(str(src), str(tmp_path / "dest"), MAP, MAP)
