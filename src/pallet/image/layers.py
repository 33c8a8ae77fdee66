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
from pallet.image.compression import DecompressError, compression_of, decompressed
from pallet.image.filewriter import Meta, set_xattrs, write_file

TYPE_CHECKING = False
if TYPE_CHECKING:
    import tarfile
    from collections.abc import Iterable, Iterator
    from typing import BinaryIO

DEFAULT_SIZE_LIMIT = 64 << 30  # bytes of uncompressed tar per layer
WHITEOUT = ".wh."
OPAQUE = ".wh..wh..opq"
MAX_SYMLINK_HOPS = 40
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_CACHE_SIZE = 64  # directory fds kept open while a layer is applied
_CHUNK = 1 << 20  # bytes read from the decompressed stream at a time
_AHEAD = 16  # chunks the reader thread may be ahead of the parser


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


class _OverLimit(Exception):
    """Put in the queue by the reader thread where the stream passes the size limit."""


class _Counted:
    """A read-only stream over the decompressed layer that hashes and counts what passes.

    A reader thread reads (and hashes) the decompressed stream in 1 MiB chunks, up to ``_AHEAD``
    chunks ahead of the tar parser: decompression (the host's gzip child, or zlib and the hash, which
    release the GIL) runs while this thread writes files, and a pipe of 1 MiB (the most a process
    without CAP_SYS_RESOURCE may ask for) no longer stalls the child whenever the writer is busy.
    """

    def __init__(self, inner: BinaryIO, limit: int, what: str) -> None:
        import queue
        import threading

        self.inner = inner
        self.limit = limit
        self.what = what
        self.hash = hashlib.sha256()
        self.count = 0  # bytes handed to the parser's side (up to a chunk ahead of what was returned)
        self.entry = ""
        self.buf = b""
        self.pos = 0
        self.offset = 0  # bytes returned by read
        self.last_block = b""  # the last 512-byte read
        self.ended = False
        self.stop = False
        self.chunks: queue.Queue[bytes | BaseException | None] = queue.Queue(_AHEAD)
        self.thread = threading.Thread(target=self._pump, name="layer-read", daemon=True)
        self.thread.start()

    def _pump(self) -> None:
        total = 0
        item: bytes | BaseException | None
        try:
            while not self.stop:
                data = self.inner.read(min(_CHUNK, self.limit - total + 1))
                if not data:
                    item = None
                    break
                total += len(data)
                if total > self.limit:
                    item = _OverLimit()
                    break
                self.hash.update(data)
                self.chunks.put(data)
            else:
                return
        except BaseException as e:  # a decompression or read error: raised where the parser reaches it
            item = e
        self.chunks.put(item)

    def _next_chunk(self) -> bytes:
        """The next chunk from the reader thread (b"" at the end); its errors raised here."""
        if self.ended:
            return b""
        data = self.chunks.get()
        if not isinstance(data, bytes):
            self.ended = True
            if data is None:
                return b""
            if isinstance(data, _OverLimit):
                at = f" at entry {self.entry!r}" if self.entry else ""
                raise LayerError(f"{self.what}: uncompressed size exceeds the limit of {self.limit} bytes{at} "
                                 f"(a decompression bomb, or raise the limit)")
            raise data
        self.count += len(data)
        return data

    def read(self, n: int = -1) -> bytes:
        """``n`` bytes (fewer only at the end): tarfile takes a short read for a truncated archive."""
        if n is None or n < 0:
            n = _CHUNK
        pos = self.pos
        if len(self.buf) - pos >= n:
            self.pos = pos + n
            self.offset += n
            out = self.buf[pos:pos + n]
            if n == 512:
                self.last_block = out  # a header (tarfile reads them one block at a time)
            return out
        parts = [self.buf[pos:]] if pos < len(self.buf) else []
        got = len(self.buf) - pos
        self.buf, self.pos = b"", 0
        while got < n:
            data = self._next_chunk()
            if not data:
                break
            if got + len(data) > n:
                parts.append(data[:n - got])
                self.buf, self.pos = data, n - got
                got = n
            else:
                parts.append(data)
                got += len(data)
        out = parts[0] if len(parts) == 1 else b"".join(parts)
        self.offset += len(out)
        if n == 512:
            self.last_block = out
        return out

    def tell(self) -> int:
        return self.offset

    def seek(self, pos: int, whence: int = 0) -> int:
        """Forward only (tarfile skips data and padding with it): the bytes in between are read."""
        if whence != 0 or pos < self.offset:
            raise OSError(f"{self.what}: the layer stream cannot seek back (to {pos} from {self.offset})")
        while pos > self.offset and self.read(min(pos - self.offset, _CHUNK)):
            pass
        return self.offset

    def data(self, size: int) -> Iterator[bytes]:
        """The next ``size`` bytes in chunks (a regular file's data); LayerError if the stream ends first."""
        while size > 0:
            chunk = self.read(min(size, _CHUNK))
            if not chunk:
                raise LayerError(f"{self.what}: unexpected end of data in entry {self.entry!r}")
            size -= len(chunk)
            yield chunk

    def drain(self) -> None:
        while self.read(1 << 20):
            pass

    def digest(self) -> str:
        """The diffID of everything read (after ``drain``)."""
        self.thread.join()
        return "sha256:" + self.hash.hexdigest()

    def close(self) -> None:
        """Stop the reader thread (the parser may have stopped early), then close the stream."""
        import queue

        self.stop = True
        interrupt = getattr(self.inner, "interrupt", None)
        if interrupt is not None and not self.ended:
            interrupt()  # ends a child decompressor: a read blocked on it returns
        while self.thread.is_alive():
            try:  # a full queue blocks the thread's put: make room until it has seen ``stop``
                self.chunks.get(timeout=0.05)
            except queue.Empty:
                pass
        self.inner.close()


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
        # Directories met lately: tar path -> (fd, path resolved inside the root).  Valid while
        # nothing is removed from the tree (``forget`` is called after every removal).
        self.cache: dict[tuple[str, ...], tuple[int, list[str]]] = {}
        # An empty root at the start (a new overlay layer): then a path exists only if this apply
        # made it, and ``made`` (real paths) says so without a stat.
        self.fresh = not os.listdir(self.fd)
        self.made: set[tuple[str, ...]] = set()
        # What a new file gets without fchown/fchmod: our euid and egid (unless its directory is
        # setgid: those are tracked), and its mode less the umask.
        self.euid, self.egid, self.umask = os.geteuid(), os.getegid(), _umask()
        self.setgid: set[tuple[str, ...]] = {()} if os.fstat(self.fd).st_mode & stat.S_ISGID else set()

    def close(self) -> None:
        self.forget()
        os.close(self.fd)

    def forget(self, keep: tuple[str, ...] | None = None) -> None:
        """Drop the cached directory fds (something was removed: a cached path may lead elsewhere now).

        ``keep``: a directory in which an entry was removed stays valid itself (its own path does
        not go through its children), and its fd may be in use.
        """
        kept = self.cache.pop(keep, None) if keep is not None else None
        for fd, _ in self.cache.values():
            os.close(fd)
        self.cache.clear()
        if keep is not None and kept is not None:
            self.cache[keep] = kept

    def may_exist(self, real: tuple[str, ...]) -> bool:
        return not self.fresh or real in self.made

    def parent(self, parts: list[str], entry: str) -> tuple[int, list[str]]:
        """A borrowed fd of the directory ``parts`` (created if missing), valid until ``forget``,
        and its path resolved inside the root.

        Most entries of a layer sit in the directory of the entry before them, or one below it: the
        walk starts from the nearest cached ancestor instead of the root.
        """
        key = tuple(parts)
        hit = self.cache.get(key)
        if hit is not None:
            return hit
        if len(self.cache) >= _CACHE_SIZE:
            self.forget()
        start: tuple[int, list[str], int] | None = None
        for n in range(len(key) - 1, 0, -1):
            above = self.cache.get(key[:n])
            if above is not None:
                start = (above[0], above[1], n)
                break
        fd, resolved = self._walk(list(parts), entry, True, start)
        self.cache[key] = (fd, resolved)
        return fd, resolved

    def open_dir(self, parts: list[str], entry: str, create: bool) -> int:
        """An fd of the directory ``parts``, symlinks resolved inside the root; created if asked."""
        return self._walk(list(parts), entry, create, None)[0]

    def _walk(self, parts: list[str], entry: str, create: bool,
              start: tuple[int, list[str], int] | None) -> tuple[int, list[str]]:
        if start is None:
            pending = parts
            done: list[str] = []
            fd = os.dup(self.fd)
        else:  # from a cached ancestor: its fd, its resolved path, how many components it covers
            pending = parts[start[2]:]
            done = list(start[1])
            fd = os.dup(start[0])
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
                    self.made.add((*done, comp))
                    if tuple(done) in self.setgid:
                        self.setgid.add((*done, comp))
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
            return fd, done
        except BaseException:
            os.close(fd)
            raise


def _umask() -> int:
    """This process's umask, read without changing it (other threads may create files meanwhile)."""
    try:
        with open("/proc/self/status", "rb") as f:
            for line in f:
                if line.startswith(b"Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    return 0o777  # unknown: fchmod every entry


def _remove(name: str, dir_fd: int) -> bool:
    """Remove ``name`` in ``dir_fd`` whatever it is (a directory with all it holds); False if absent."""
    try:
        st = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except FileNotFoundError:
        return False
    if stat.S_ISDIR(st.st_mode):
        import shutil

        shutil.rmtree(name, dir_fd=dir_fd)
    else:
        os.unlink(name, dir_fd=dir_fd)
    return True


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
            # "r:" (not the stream mode "r|", which reads 10 KiB at a time and copies): forward seeks only
            tf = tarfile.open(fileobj=counted, mode="r:", errorlevel=2)  # type: ignore[call-overload]
            for member in tf:
                applier.apply(tf, member)
                entries += 1
            # tarfile ends quietly at a header it cannot read past the first: a layer must end at a
            # header boundary, or with the zero block that marks its end.
            tail = counted.offset - tf.offset
            if tail and (tail < 512 or counted.last_block.count(0) != 512):
                raise LayerError(f"{name}: {'truncated' if tail < 512 else 'invalid'} tar header at byte "
                                 f"{tf.offset} (after entry {counted.entry!r})")
            counted.entry = "(padding after the last entry)"
            counted.drain()
        except PalletError:
            raise
        except Exception as e:  # tarfile, gzip, zlib, lzma, zstd: each has its own errors
            if isinstance(e, tarfile.ReadError) and counted.count == 0:
                raise LayerError(f"{name} is empty: not a tar archive") from None
            raise LayerError(f"{name} is not a valid tar archive (compression: {_kind}): {e}") from None
        applier.finish()
    finally:
        root.close()
        counted.close()
    diff_id = counted.digest()
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
            pfd, real = self.root.parent(parent, m.name)
            key = (*real, base)
            self._entry(tf, m, pfd, base, parts, key)
            self.created.add(tuple(parts))
            self.root.made.add(key)
        except (LayerError, DecompressError):
            raise
        except OSError as e:
            raise LayerError(f"layer entry {m.name!r}: {e.strerror or e} ({type(e).__name__})") from None

    def _remove(self, name: str, dir_fd: int, key: tuple[str, ...], keep: tuple[str, ...] | None) -> None:
        """Remove what is at ``name`` (``key`` its real path), if anything (no stat for a new path)."""
        if self.root.may_exist(key) and _remove(name, dir_fd):
            self.root.forget(keep=keep)

    def _whiteout(self, entry: str, parent: list[str], base: str) -> None:
        here = tuple(parent)
        if base == OPAQUE:
            pfd, _ = self.root.parent(parent, entry)
            if self.overlay:
                os.setxattr(pfd, "trusted.overlay.opaque", b"y")
            else:
                for child in os.listdir(pfd):
                    if (*here, child) not in self.created and _remove(child, pfd):
                        self.root.forget(keep=here)
            return
        if base.startswith(WHITEOUT + WHITEOUT):
            return  # aufs metadata (.wh..wh.plnk and the like): not part of the tree
        target = base[len(WHITEOUT):]
        if target in ("", ".", "..") or "/" in target:
            raise LayerError(f"layer entry {entry!r}: whiteout of {target!r} is not a valid name")
        if self.overlay:
            pfd, real = self.root.parent(parent, entry)
        else:
            pfd, real = self.root.open_dir(parent, entry, create=False), []
        try:
            if _remove(target, pfd):
                self.root.forget(keep=here)
            if self.overlay:
                os.mknod(target, stat.S_IFCHR | 0o000, os.makedev(0, 0), dir_fd=pfd)
                self.root.made.add((*real, target))
        finally:
            if not self.overlay:
                os.close(pfd)

    def _entry(self, tf: tarfile.TarFile, m: tarfile.TarInfo, pfd: int, base: str, parts: list[str],
               key: tuple[str, ...]) -> None:
        root = self.root
        mode = m.mode & 0o7777
        mtime_ns = _mtime_ns(m)
        xattrs = _xattrs(m)
        here = tuple(parts[:-1])
        chown = not root.fresh or key[:-1] in root.setgid or m.uid != root.euid or m.gid != root.egid
        meta = Meta(m.uid, m.gid, mode, mtime_ns, xattrs, chown, bool(mode & 0o7000 or mode & root.umask))
        if m.isdir():
            new = True
            if root.may_exist(key):
                try:
                    st = os.stat(base, dir_fd=pfd, follow_symlinks=False)
                    new = not stat.S_ISDIR(st.st_mode)
                    if new:
                        self._remove(base, pfd, key, here)
                except FileNotFoundError:
                    pass
            if new:
                os.mkdir(base, mode & 0o777, dir_fd=pfd)
            if not new or meta.chown or meta.chmod or xattrs:
                fd = os.open(base, _DIR_FLAGS, dir_fd=pfd)
                try:
                    os.fchown(fd, m.uid, m.gid)
                    os.fchmod(fd, mode)
                    set_xattrs(fd, xattrs)
                finally:
                    os.close(fd)
            if mode & stat.S_ISGID:
                root.setgid.add(key)
            else:
                root.setgid.discard(key)
            self.dirs.append((parts, mtime_ns))
            return
        self._remove(base, pfd, key, here)
        if m.isreg():
            if m.sparse is None and not m.issparse() and self.counted.offset == m.offset_data:
                chunks: Iterable[bytes] = self.counted.data(m.size)  # read directly: no file object
            else:
                src = tf.extractfile(m)
                chunks = iter(lambda: src.read(1 << 20), b"") if src is not None else ()
            write_file(pfd, base, chunks, meta)
            return
        if m.issym():
            os.symlink(m.linkname, base, dir_fd=pfd)
            if chown:
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
            set_xattrs(f"/proc/self/fd/{pfd}/{base}", xattrs)
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


def _mtime_ns(m: tarfile.TarInfo) -> int:
    """The entry's mtime in ns; a PAX mtime ("1700000000.123456789") exactly, not through a float."""
    text = m.pax_headers.get("mtime") if m.pax_headers else None
    if text:
        negative = text.startswith("-")
        sec, _, frac = text.lstrip("-").partition(".")
        if sec.isdigit() and (not frac or frac.isdigit()):
            ns = int(sec) * 1_000_000_000 + int((frac + "000000000")[:9])
            return -ns if negative else ns
    return int(m.mtime * 1_000_000_000)


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


__all__ = ["DEFAULT_SIZE_LIMIT", "LayerError", "LayerResult", "apply_layer", "compression_of", "decompressed",
           "split_name"]
