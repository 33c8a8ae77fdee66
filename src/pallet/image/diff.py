"""The difference a layer makes: docker's A/C/D change list, and the layer tar that carries it.

Two forms of a writable layer exist:

- ``overlay``: the upper dir holds only what changed; a deleted file is a 0:0 character device, a
  directory whose lower contents are hidden carries ``trusted.overlay.opaque=y``.  Whether a path
  is Added or Changed is decided by looking for it in the lower dirs.
- ``direct`` (vfs): the directory holds the whole tree; it is compared with its parent's copy
  (type, mode, owner, size, mtime, link target, device number).

The tar uses docker's whiteouts (``.wh.<name>``, ``.wh..wh..opq``), numeric owners, PAX xattrs
(``trusted.overlay.*`` and ``security.selinux`` left out), hard links kept as links.  Entries are in
sorted order, so the same tree gives the same bytes and the same diffID.  The upper dir may belong to
a running container: every file is opened relative to its directory's fd with O_NOFOLLOW.
"""

from __future__ import annotations

import errno
import hashlib
import os
import stat

TYPE_CHECKING = False
if TYPE_CHECKING:
    import tarfile
    from collections.abc import Iterator
    from typing import BinaryIO

ADDED, CHANGED, DELETED = "A", "C", "D"
_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


class Change:
    """One changed path: ``kind`` A, C or D; ``path`` absolute in the container (``/etc/hosts``)."""

    __slots__ = ("kind", "opaque", "path")

    def __init__(self, kind: str, path: str, opaque: bool = False) -> None:
        self.kind = kind
        self.path = path
        self.opaque = opaque

    def __repr__(self) -> str:
        return f"{self.kind} {self.path}"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Change) and (self.kind, self.path) == (other.kind, other.path)

    def __hash__(self) -> int:
        return hash((self.kind, self.path))


def _lstat_at(dir_fd: int, name: str) -> os.stat_result | None:
    try:
        return os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except FileNotFoundError:
        return None


def _open_sub(dir_fd: int, name: str) -> int | None:
    try:
        return os.open(name, _DIR, dir_fd=dir_fd)
    except OSError as e:
        if e.errno in (errno.ENOENT, errno.ENOTDIR, errno.ELOOP):
            return None
        raise


def _is_whiteout(st: os.stat_result) -> bool:
    return stat.S_ISCHR(st.st_mode) and st.st_rdev == 0


def _opaque(fd: int) -> bool:
    try:
        return os.getxattr(fd, "trusted.overlay.opaque") == b"y"
    except OSError:
        return False


def _same(a: os.stat_result, b: os.stat_result, link_a: str = "", link_b: str = "") -> bool:
    if stat.S_IFMT(a.st_mode) != stat.S_IFMT(b.st_mode):
        return False
    if (a.st_mode, a.st_uid, a.st_gid) != (b.st_mode, b.st_uid, b.st_gid):
        return False
    if stat.S_ISDIR(a.st_mode):
        return True  # a directory is "changed" only through its children or its metadata
    return (a.st_size, a.st_mtime_ns, a.st_rdev, link_a) == (b.st_size, b.st_mtime_ns, b.st_rdev, link_b)


def _walk(upper_fd: int, lower_fds: list[int], overlay: bool, prefix: str) -> Iterator[tuple[str, str, int, str]]:
    """(kind, path, dir fd holding it, name) in sorted order; children follow their directory."""
    names = set(os.listdir(upper_fd))
    if not overlay:
        for lfd in lower_fds[:1]:
            names |= set(os.listdir(lfd))
    for name in sorted(names):
        path = f"{prefix}/{name}"
        st = _lstat_at(upper_fd, name)
        lower_st = None
        lower_fd = -1
        for lfd in lower_fds:
            lower_st = _lstat_at(lfd, name)
            if lower_st is not None:
                lower_fd = lfd
                break
        if st is None:
            if not overlay and lower_st is not None:
                yield DELETED, path, upper_fd, name
            continue
        if overlay and _is_whiteout(st):
            if lower_st is not None:
                yield DELETED, path, upper_fd, name
            continue
        link = os.readlink(name, dir_fd=upper_fd) if stat.S_ISLNK(st.st_mode) else ""
        if lower_st is None:
            kind = ADDED
        elif overlay or stat.S_ISDIR(st.st_mode) != stat.S_ISDIR(lower_st.st_mode):
            kind = CHANGED
        else:
            lower_link = os.readlink(name, dir_fd=lower_fd) if stat.S_ISLNK(lower_st.st_mode) else ""
            kind = "" if _same(st, lower_st, link, lower_link) else CHANGED
        if not stat.S_ISDIR(st.st_mode):
            if kind:
                yield kind, path, upper_fd, name
            continue
        sub = os.open(name, _DIR, dir_fd=upper_fd)
        try:
            opaque = overlay and _opaque(sub)
            subs = []
            if not opaque and kind != ADDED:
                subs = [s for s in (_open_sub(lfd, name) for lfd in lower_fds) if s is not None]
            mark = "o" if opaque else ""
            try:
                if kind:
                    yield kind + mark, path, upper_fd, name
                # An unchanged directory appears only before its first changed child.
                for i, child in enumerate(_walk(sub, subs, overlay, path)):
                    if i == 0 and not kind:
                        yield CHANGED + mark, path, upper_fd, name
                    yield child
            finally:
                for s in subs:
                    os.close(s)
        finally:
            os.close(sub)


def _open_dirs(upper: str, lowers: list[str]) -> tuple[int, list[int]]:
    return os.open(upper, _DIR), [os.open(d, _DIR) for d in lowers]


def changes(upper: str, lowers: list[str], whiteouts: str = "overlay") -> list[Change]:
    """docker diff's list for the layer ``upper`` over ``lowers`` (nearest first)."""
    ufd, lfds = _open_dirs(upper, lowers)
    try:
        return [Change(k[0], p, k.endswith("o")) for k, p, _fd, _n in _walk(ufd, lfds, whiteouts == "overlay", "")]
    finally:
        for fd in [ufd, *lfds]:
            os.close(fd)


class _HashWriter:
    def __init__(self, out: BinaryIO) -> None:
        self.out = out
        self.hash = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> int:
        self.hash.update(data)
        self.size += len(data)
        self.out.write(data)
        return len(data)


def write_diff(upper: str, lowers: list[str], out: BinaryIO, whiteouts: str = "overlay") -> tuple[str, int]:
    """Write the layer tar of ``upper`` over ``lowers`` to ``out``; returns (diffID, size in bytes)."""
    import tarfile

    writer = _HashWriter(out)
    tf = tarfile.open(fileobj=writer, mode="w|", format=tarfile.PAX_FORMAT)  # type: ignore[call-overload]
    ufd, lfds = _open_dirs(upper, lowers)
    links: dict[tuple[int, int], str] = {}
    try:
        for kind, path, dir_fd, name in _walk(ufd, lfds, whiteouts == "overlay", ""):
            rel = path.lstrip("/")
            if kind == DELETED:
                parent, _, base = rel.rpartition("/")
                ti = tarfile.TarInfo(f"{parent}/.wh.{base}" if parent else f".wh.{base}")
                ti.mode = 0o644
                tf.addfile(ti)
                continue
            _add_entry(tf, dir_fd, name, rel, links)
            if kind.endswith("o"):
                ti = tarfile.TarInfo(f"{rel}/.wh..wh..opq")
                ti.mode = 0o644
                tf.addfile(ti)
        tf.close()
    finally:
        for fd in [ufd, *lfds]:
            os.close(fd)
    return "sha256:" + writer.hash.hexdigest(), writer.size


def _add_entry(tf: tarfile.TarFile, dir_fd: int, name: str, rel: str, links: dict[tuple[int, int], str]) -> None:
    import tarfile

    st = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    ti = tarfile.TarInfo(rel)
    ti.mode = stat.S_IMODE(st.st_mode)
    ti.uid, ti.gid = st.st_uid, st.st_gid
    ti.mtime = int(st.st_mtime)
    mode = st.st_mode
    if stat.S_ISLNK(mode):
        ti.type = tarfile.SYMTYPE
        ti.linkname = os.readlink(name, dir_fd=dir_fd)
        tf.addfile(ti)
        return
    if stat.S_ISDIR(mode):
        ti.type = tarfile.DIRTYPE
        fd = os.open(name, _DIR, dir_fd=dir_fd)
        try:
            ti.pax_headers = _xattr_headers(fd)
        finally:
            os.close(fd)
        tf.addfile(ti)
        return
    if stat.S_ISREG(mode):
        key = (st.st_dev, st.st_ino)
        if st.st_nlink > 1 and key in links:
            ti.type = tarfile.LNKTYPE
            ti.linkname = links[key]
            tf.addfile(ti)
            return
        links[key] = rel
        fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dir_fd)
        with os.fdopen(fd, "rb") as f:
            st = os.fstat(f.fileno())
            ti.size = st.st_size
            ti.pax_headers = _xattr_headers(f.fileno())
            tf.addfile(ti, f)
        return
    if stat.S_ISFIFO(mode):
        ti.type = tarfile.FIFOTYPE
    elif stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        ti.type = tarfile.CHRTYPE if stat.S_ISCHR(mode) else tarfile.BLKTYPE
        ti.devmajor, ti.devminor = os.major(st.st_rdev), os.minor(st.st_rdev)
    else:
        return  # sockets are not carried by layers
    tf.addfile(ti)


def _xattr_headers(fd: int) -> dict[str, str]:
    out: dict[str, str] = {}
    try:
        names = os.listxattr(fd)
    except OSError:
        return out
    for xname in sorted(names):
        if xname.startswith("trusted.overlay.") or xname == "security.selinux":
            continue
        try:
            value = os.getxattr(fd, xname)
        except OSError:
            continue
        out[f"SCHILY.xattr.{xname}"] = value.decode("utf-8", "surrogateescape")
    return out
