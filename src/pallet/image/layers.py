"""Applying an image layer (a tar, maybe compressed) to a directory, safely.

Layers are untrusted input.  tarfile only reads the headers; every entry is written by this module
through file descriptors relative to the layer's root: each path component is opened with
O_NOFOLLOW, so no symlink is followed by the kernel on our behalf.  A symlink met as a parent
directory is resolved by us inside the root (as docker does in its chroot); one whose ``..`` would
climb above the root is refused.  Refused too, with an error naming the entry: ``..`` components,
absolute names, hard links whose target leaves the root or does not exist, whiteout names that are
not a plain name, device nodes (unless allowed), ``trusted.overlay.*`` xattrs (they would forge
overlayfs metadata), and anything beyond the size limit (decompression bombs, huge sparse files).

Whiteouts: ``.wh.<name>`` deletes ``<name>`` of a lower layer and ``.wh..wh..opq`` hides a whole
lower directory.  For the overlay driver they are stored as overlayfs does (a 0:0 character device;
the ``trusted.overlay.opaque=y`` xattr); for vfs the deletions are done on the directory itself.

Ownership is numeric; modes (setuid, setgid, sticky), fifos, xattrs and timestamps are kept.  The
uncompressed stream is hashed while it is read; the result is checked against the expected diffID.
"""

from __future__ import annotations

import errno
import hashlib
import os
import stat

from pallet.errors import PalletError

TYPE_CHECKING = False
if TYPE_CHECKING:
    import tarfile
    from typing import BinaryIO

DEFAULT_SIZE_LIMIT = 64 << 30  # bytes of uncompressed tar per layer
WHITEOUT = ".wh."
OPAQUE = ".wh..wh..opq"
MAX_SYMLINK_HOPS = 40
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


class LayerError(PalletError):
    """A layer is malformed or tries to reach outside its root; the message names the entry."""


class LayerResult:
    __slots__ = ("diff_id", "entries", "size")

    def __init__(self, diff_id: str, size: int, entries: int) -> None:
        self.diff_id = diff_id
        self.size = size
        self.entries = entries

    def __repr__(self) -> str:
        return f"LayerResult({self.diff_id}, size={self.size}, entries={self.entries})"


# -- the decompressed, hashed, limited stream ------------------------------------------------------


class _Counted:
    """A read-only stream over the decompressed layer that hashes and counts what passes."""

    def __init__(self, inner: BinaryIO, limit: int, what: str) -> None:
        self.inner = inner
        self.limit = limit
        self.what = what
        self.hash = hashlib.sha256()
        self.count = 0
        self.entry = ""

    def read(self, n: int = -1) -> bytes:
        if n is None or n < 0:
            n = 1 << 20
        data = self.inner.read(min(n, self.limit - self.count + 1))
        self.count += len(data)
        if self.count > self.limit:
            at = f" at entry {self.entry!r}" if self.entry else ""
            raise LayerError(f"{self.what}: uncompressed size exceeds the limit of {self.limit} bytes{at} "
                             f"(a decompression bomb, or raise the limit)")
        self.hash.update(data)
        return data

    def drain(self) -> None:
        while self.read(1 << 20):
            pass


class _Prefixed:
    """A stream whose first bytes were already read (to look at the magic number)."""

    def __init__(self, head: bytes, rest: BinaryIO) -> None:
        self.head = head
        self.rest = rest

    def read(self, n: int = -1) -> bytes:
        if self.head:
            if n is None or n < 0 or n >= len(self.head):
                out, self.head = self.head, b""
                more = self.rest.read(-1 if n is None or n < 0 else n - len(out))
                return out + more
            out, self.head = self.head[:n], self.head[n:]
            return out
        return self.rest.read(n)

    def readable(self) -> bool:
        return True


def compression_of(head: bytes) -> str:
    """``gzip``, ``zstd``, ``bzip2``, ``xz`` or ``none``, from the first bytes of a stream."""
    if head[:2] == b"\x1f\x8b":
        return "gzip"
    if head[:4] == b"\x28\xb5\x2f\xfd":
        return "zstd"
    if head[:3] == b"BZh":
        return "bzip2"
    if head[:6] == b"\xfd7zXZ\x00":
        return "xz"
    return "none"


def decompressed(stream: BinaryIO) -> tuple[BinaryIO, str]:
    """The uncompressed stream of a layer blob (compression detected by magic), and its compression."""
    head = stream.read(6)
    kind = compression_of(head)
    raw: BinaryIO = _Prefixed(head, stream)  # type: ignore[assignment]
    if kind == "gzip":
        import gzip

        return gzip.GzipFile(fileobj=raw, mode="rb"), kind  # type: ignore[return-value]
    if kind == "zstd":
        from backports.zstd import ZstdFile

        return ZstdFile(raw, "rb"), kind  # type: ignore[return-value]
    if kind == "bzip2":
        import bz2

        return bz2.BZ2File(raw, "rb"), kind  # type: ignore[return-value]
    if kind == "xz":
        import lzma

        return lzma.LZMAFile(raw, "rb"), kind  # type: ignore[return-value]
    return raw, kind


# -- paths inside the root -------------------------------------------------------------------------


def split_name(name: str, entry: str | None = None) -> list[str]:
    """The components of a tar name; LayerError for absolute names and ``..``.

    ``entry`` is the entry whose link target ``name`` is (for the message).
    """
    what = f"layer entry {name!r}" if entry is None else f"layer entry {entry!r}: link target {name!r}"
    if name.startswith("/"):
        raise LayerError(f"{what}: absolute path (a layer's names are relative to its root)")
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise LayerError(f"{what}: '..' component would leave the layer root")
    if any("\0" in p for p in parts):
        raise LayerError(f"{what}: NUL byte in the name")
    return parts


class _Root:
    """The layer root, opened once; every lookup walks from it one component at a time."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.fd = os.open(path, _DIR_FLAGS)

    def close(self) -> None:
        os.close(self.fd)

    def open_dir(self, parts: list[str], entry: str, create: bool) -> int:
        """An fd of the directory ``parts``, symlinks resolved inside the root; created if asked."""
        pending = list(parts)
        done: list[str] = []
        fd = os.dup(self.fd)
        hops = 0
        try:
            while pending:
                comp = pending.pop(0)
                try:
                    nfd = os.open(comp, _DIR_FLAGS, dir_fd=fd)
                except FileNotFoundError:
                    if not create:
                        raise LayerError(f"layer entry {entry!r}: {'/'.join([*done, comp])} does not exist") from None
                    os.mkdir(comp, 0o755, dir_fd=fd)
                    nfd = os.open(comp, _DIR_FLAGS, dir_fd=fd)
                except OSError as e:
                    if e.errno not in (errno.ELOOP, errno.ENOTDIR):
                        raise
                    st = os.stat(comp, dir_fd=fd, follow_symlinks=False)
                    if not stat.S_ISLNK(st.st_mode):
                        raise LayerError(f"layer entry {entry!r}: {'/'.join([*done, comp])} is not a directory") from None
                    hops += 1
                    if hops > MAX_SYMLINK_HOPS:
                        raise LayerError(f"layer entry {entry!r}: too many levels of symlinks") from None
                    target = os.readlink(comp, dir_fd=fd)
                    base = [] if target.startswith("/") else done
                    resolved: list[str] = []
                    for p in [*base, *target.split("/")]:
                        if p in ("", "."):
                            continue
                        if p == "..":
                            if not resolved:
                                raise LayerError(
                                    f"layer entry {entry!r}: symlink {'/'.join([*done, comp])} -> {target} "
                                    f"leads outside the layer root") from None
                            resolved.pop()
                        else:
                            resolved.append(p)
                    pending = resolved + pending
                    done = []
                    os.close(fd)
                    fd = os.dup(self.fd)
                    continue
                os.close(fd)
                fd = nfd
                done.append(comp)
            return fd
        except BaseException:
            os.close(fd)
            raise


def _remove(name: str, dir_fd: int) -> None:
    """Remove ``name`` in ``dir_fd`` whatever it is (a directory with all it holds)."""
    try:
        st = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except FileNotFoundError:
        return
    if stat.S_ISDIR(st.st_mode):
        import shutil

        shutil.rmtree(name, dir_fd=dir_fd)
    else:
        os.unlink(name, dir_fd=dir_fd)


# -- applying ----------------------------------------------------------------------------------------


def apply_layer(
    stream: BinaryIO,
    dest: str,
    *,
    whiteouts: str = "overlay",
    expected_diff_id: str | None = None,
    size_limit: int = DEFAULT_SIZE_LIMIT,
    allow_devices: bool = False,
    name: str = "layer",
) -> LayerResult:
    """Apply the layer read from ``stream`` to the directory ``dest``; returns its diffID and size.

    ``whiteouts`` is ``"overlay"`` (keep them as overlayfs does: ``dest`` is a layer of its own) or
    ``"direct"`` (``dest`` holds the whole tree below: delete what they name).  On any error the
    caller discards ``dest`` (it may hold part of the layer).
    """
    import tarfile

    if whiteouts not in ("overlay", "direct"):
        raise ValueError(f"whiteouts must be 'overlay' or 'direct', not {whiteouts!r}")
    inner, _kind = decompressed(stream)
    counted = _Counted(inner, size_limit, name)
    root = _Root(dest)
    applier = _Applier(root, whiteouts, allow_devices, size_limit, counted)
    entries = 0
    try:
        try:
            tf = tarfile.open(fileobj=counted, mode="r|", errorlevel=2)  # type: ignore[call-overload]
            for member in tf:
                applier.apply(tf, member)
                entries += 1
        except PalletError:
            raise
        except Exception as e:  # tarfile, gzip, zlib, lzma, zstd: each has its own errors
            if isinstance(e, tarfile.ReadError) and counted.count == 0:
                raise LayerError(f"{name} is empty: not a tar archive") from None
            raise LayerError(f"{name} is not a valid tar archive (compression: {_kind}): {e}") from None
        counted.entry = "(padding after the last entry)"
        counted.drain()
        applier.finish()
    finally:
        root.close()
    diff_id = "sha256:" + counted.hash.hexdigest()
    if expected_diff_id is not None and diff_id != expected_diff_id:
        raise LayerError(f"{name}: diffID mismatch: the config says {expected_diff_id}, the content is {diff_id}")
    return LayerResult(diff_id, counted.count, entries)


class _Applier:
    def __init__(self, root: _Root, whiteouts: str, allow_devices: bool, limit: int, counted: _Counted) -> None:
        self.root = root
        self.overlay = whiteouts == "overlay"
        self.allow_devices = allow_devices
        self.limit = limit
        self.counted = counted
        self.dirs: list[tuple[list[str], int]] = []  # (path, mtime ns): set at the end
        self.created: set[tuple[str, ...]] = set()

    def apply(self, tf: tarfile.TarFile, m: tarfile.TarInfo) -> None:
        self.counted.entry = m.name
        parts = split_name(m.name)
        if not parts:
            return  # the root itself: its metadata is the snapshot's, not the layer's
        base = parts[-1]
        parent = parts[:-1]
        try:
            if base.startswith(WHITEOUT):
                self._whiteout(m.name, parent, base)
                return
            if m.size > self.limit - self.counted.count and (m.isreg() or m.issparse()):
                raise LayerError(f"layer entry {m.name!r}: {m.size} bytes exceeds the layer size limit "
                                 f"of {self.limit} bytes")
            pfd = self.root.open_dir(parent, m.name, create=True)
            try:
                self._entry(tf, m, pfd, base, parts)
            finally:
                os.close(pfd)
            self.created.add(tuple(parts))
        except LayerError:
            raise
        except OSError as e:
            raise LayerError(f"layer entry {m.name!r}: {e.strerror or e} ({type(e).__name__})") from None

    def _whiteout(self, entry: str, parent: list[str], base: str) -> None:
        if base == OPAQUE:
            pfd = self.root.open_dir(parent, entry, create=True)
            try:
                if self.overlay:
                    os.setxattr(pfd, "trusted.overlay.opaque", b"y")
                else:
                    here = tuple(parent)
                    for child in os.listdir(pfd):
                        if (*here, child) not in self.created:
                            _remove(child, pfd)
            finally:
                os.close(pfd)
            return
        if base.startswith(WHITEOUT + WHITEOUT):
            return  # aufs metadata (.wh..wh.plnk and the like): not part of the tree
        target = base[len(WHITEOUT):]
        if target in ("", ".", "..") or "/" in target:
            raise LayerError(f"layer entry {entry!r}: whiteout of {target!r} is not a valid name")
        pfd = self.root.open_dir(parent, entry, create=self.overlay)
        try:
            _remove(target, pfd)
            if self.overlay:
                os.mknod(target, stat.S_IFCHR | 0o000, os.makedev(0, 0), dir_fd=pfd)
        finally:
            os.close(pfd)

    def _entry(self, tf: tarfile.TarFile, m: tarfile.TarInfo, pfd: int, base: str, parts: list[str]) -> None:
        mode = m.mode & 0o7777
        mtime_ns = int(m.mtime * 1_000_000_000)
        xattrs = _xattrs(m)
        if m.isdir():
            try:
                st = os.stat(base, dir_fd=pfd, follow_symlinks=False)
                if not stat.S_ISDIR(st.st_mode):
                    _remove(base, pfd)
                    os.mkdir(base, 0o700, dir_fd=pfd)
            except FileNotFoundError:
                os.mkdir(base, 0o700, dir_fd=pfd)
            fd = os.open(base, _DIR_FLAGS, dir_fd=pfd)
            try:
                os.fchown(fd, m.uid, m.gid)
                os.fchmod(fd, mode)
                _set_xattrs(fd, xattrs, m.name)
            finally:
                os.close(fd)
            self.dirs.append((parts, mtime_ns))
            return
        _remove(base, pfd)
        if m.isreg():
            fd = os.open(base, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600, dir_fd=pfd)
            try:
                src = tf.extractfile(m)
                if src is not None:
                    while chunk := src.read(1 << 20):
                        view = memoryview(chunk)
                        while view:
                            view = view[os.write(fd, view):]
                os.fchown(fd, m.uid, m.gid)
                os.fchmod(fd, mode)
                _set_xattrs(fd, xattrs, m.name)
                os.utime(fd, ns=(mtime_ns, mtime_ns))
            finally:
                os.close(fd)
            return
        if m.issym():
            os.symlink(m.linkname, base, dir_fd=pfd)
            os.chown(base, m.uid, m.gid, dir_fd=pfd, follow_symlinks=False)
            os.utime(base, ns=(mtime_ns, mtime_ns), dir_fd=pfd, follow_symlinks=False)
            return
        if m.islnk():
            target = split_name(m.linkname, m.name)
            if not target:
                raise LayerError(f"layer entry {m.name!r}: hard link to the layer root")
            sfd = self.root.open_dir(target[:-1], m.name, create=False)
            try:
                st = os.stat(target[-1], dir_fd=sfd, follow_symlinks=False)
                if stat.S_ISDIR(st.st_mode):
                    raise LayerError(f"layer entry {m.name!r}: hard link to the directory {m.linkname!r}")
                os.link(target[-1], base, src_dir_fd=sfd, dst_dir_fd=pfd, follow_symlinks=False)
            except FileNotFoundError:
                raise LayerError(f"layer entry {m.name!r}: hard link target {m.linkname!r} is not in this layer") from None
            finally:
                os.close(sfd)
            return
        if m.ischr() or m.isblk():
            if not self.allow_devices:
                kind = "character" if m.ischr() else "block"
                raise LayerError(f"layer entry {m.name!r}: {kind} device {m.devmajor}:{m.devminor} "
                                 f"(device nodes are not allowed in image layers)")
            ftype = stat.S_IFCHR if m.ischr() else stat.S_IFBLK
            os.mknod(base, ftype | 0o600, os.makedev(m.devmajor, m.devminor), dir_fd=pfd)
        elif m.isfifo():
            os.mkfifo(base, 0o600, dir_fd=pfd)
        else:
            raise LayerError(f"layer entry {m.name!r}: unsupported tar entry type {m.type!r}")
        # A node we just made: not a symlink, so following is harmless; there is no fd to use.
        os.chown(base, m.uid, m.gid, dir_fd=pfd, follow_symlinks=False)
        os.chmod(base, mode, dir_fd=pfd)
        if xattrs:
            _set_xattrs(f"/proc/self/fd/{pfd}/{base}", xattrs, m.name)
        os.utime(base, ns=(mtime_ns, mtime_ns), dir_fd=pfd, follow_symlinks=False)

    def finish(self) -> None:
        """Directory times last: writing their children changed them."""
        for parts, mtime_ns in reversed(self.dirs):
            try:
                fd = self.root.open_dir(parts, "/".join(parts), create=False)
            except (LayerError, OSError):
                continue  # replaced later in the layer
            try:
                os.utime(fd, ns=(mtime_ns, mtime_ns))
            finally:
                os.close(fd)


def _xattrs(m: tarfile.TarInfo) -> dict[str, bytes]:
    out = {}
    for key, value in m.pax_headers.items():
        if key.startswith("SCHILY.xattr."):
            name = key[len("SCHILY.xattr."):]
            if name.startswith("trusted.overlay."):
                raise LayerError(f"layer entry {m.name!r}: xattr {name!r} is reserved for overlayfs")
            if name == "security.selinux":
                continue
            out[name] = value.encode("utf-8", "surrogateescape")
    return out


def _set_xattrs(target: int | str, xattrs: dict[str, bytes], entry: str) -> None:
    for name, value in xattrs.items():
        try:
            os.setxattr(target, name, value)
        except OSError as e:
            if e.errno in (errno.ENOTSUP, errno.EPERM):
                continue
            raise LayerError(f"layer entry {entry!r}: setting xattr {name!r}: {e.strerror}") from None
