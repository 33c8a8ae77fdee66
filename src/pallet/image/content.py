"""The content store: blobs addressed by their sha256 digest, verified while they are written.

Layout under ``<root>/content``::

    blobs/sha256/<hex>      finished blobs, read-only (0444), written once and renamed into place
    ingest/<ref-hash>/      partial ingests: ``data`` (bytes so far) and ``ref`` (the caller's name)

A blob is written to a temporary file while its digest is computed; only when the digest (and the
size, when given) match is it fsynced and renamed into place, so a blob that exists is always
complete and correct.  A wrong digest is refused and the temporary file removed.  An ingest started
with ``ref=`` keeps its partial data so that an interrupted download can continue where it stopped
(``ingest_offset(ref)`` says how many bytes are already there).
"""

from __future__ import annotations

import os

from pallet.errors import ConfigError, NotFoundError, PalletError

TYPE_CHECKING = False
if TYPE_CHECKING:
    import builtins
    import hashlib
    from collections.abc import Iterable, Iterator
    from typing import BinaryIO

CHUNK = 1 << 20


class DigestMismatch(PalletError):
    """The bytes received do not hash to the digest that was expected."""


def parse_digest(digest: str, where: str = "digest") -> str:
    """The hex part of a ``sha256:<64 hex>`` digest; any other form is a ConfigError naming it."""
    algo, sep, hexpart = digest.partition(":")
    if not sep or algo != "sha256":
        raise ConfigError(f"{where} {digest!r} is not a sha256 digest (expected sha256:<64 hex digits>)")
    if len(hexpart) != 64 or any(c not in "0123456789abcdef" for c in hexpart):
        raise ConfigError(f"{where} {digest!r} is not a sha256 digest (expected sha256:<64 lowercase hex digits>)")
    return hexpart


def _sha256(data: bytes = b"") -> hashlib._Hash:
    """hashlib imported on first use: it costs ~4 ms (OpenSSL), and reading the store needs no hash."""
    import hashlib

    return hashlib.sha256(data)


def sha256_digest(data: bytes) -> str:
    return "sha256:" + _sha256(data).hexdigest()


class ContentStore:
    """Blobs under ``<root>/content``; every method is safe to call from several processes."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = os.fspath(root)
        self.blobs_dir = os.path.join(self.root, "content", "blobs", "sha256")
        self.ingest_dir = os.path.join(self.root, "content", "ingest")
        os.makedirs(self.blobs_dir, mode=0o700, exist_ok=True)
        os.makedirs(self.ingest_dir, mode=0o700, exist_ok=True)

    # -- reading -------------------------------------------------------------------------------

    def path(self, digest: str) -> str:
        """Where the blob ``digest`` lives (whether or not it exists)."""
        return os.path.join(self.blobs_dir, parse_digest(digest))

    def has(self, digest: str) -> bool:
        return os.path.exists(self.path(digest))

    def size(self, digest: str) -> int:
        try:
            return os.stat(self.path(digest)).st_size
        except FileNotFoundError:
            raise NotFoundError(f"blob {digest} is not in the content store {self.blobs_dir}") from None

    def open_blob(self, digest: str) -> BinaryIO:
        """The blob opened for reading; NotFoundError if it is not in the store."""
        try:
            return open(self.path(digest), "rb")
        except FileNotFoundError:
            raise NotFoundError(f"blob {digest} is not in the content store {self.blobs_dir}") from None

    def read(self, digest: str) -> bytes:
        with self.open_blob(digest) as f:
            return f.read()

    def list(self) -> list[str]:
        return sorted("sha256:" + name for name in os.listdir(self.blobs_dir) if len(name) == 64)

    def delete(self, digest: str) -> bool:
        """Remove a blob; False if it was not there."""
        try:
            os.unlink(self.path(digest))
        except FileNotFoundError:
            return False
        return True

    # -- writing -------------------------------------------------------------------------------

    def add_bytes(self, data: bytes) -> str:
        """Store ``data`` under its own digest (for manifests and configs we create)."""
        return self.ingest(data, sha256_digest(data), len(data))

    def ingest(
        self,
        source: bytes | BinaryIO | Iterable[bytes],
        expected_digest: str,
        expected_size: int | None = None,
        *,
        ref: str | None = None,
    ) -> str:
        """Write ``source`` as the blob ``expected_digest``, verifying digest and size; returns the digest.

        ``source`` is bytes, a binary file object, or an iterable of byte chunks.  With ``ref``, the
        bytes are appended to that ref's partial ingest (``ingest_offset(ref)`` bytes already there,
        which ``source`` must continue); otherwise a fresh temporary file is used.  On a mismatch the
        partial data is discarded and DigestMismatch raised.
        """
        writer = self.writer(expected_digest, expected_size, ref=ref)
        if writer is None:
            _drain(source)
            return expected_digest
        with writer:
            for chunk in _chunks(source):
                writer.write(chunk)
            return writer.commit()

    def writer(self, expected_digest: str, expected_size: int | None = None, *,
               ref: str | None = None) -> BlobWriter | None:
        """A :class:`BlobWriter` for the blob ``expected_digest``, or None if the store has it already
        (then a partial ingest ``ref`` is discarded).  Use it as a context manager."""
        hexpart = parse_digest(expected_digest, "expected digest")
        if os.path.exists(os.path.join(self.blobs_dir, hexpart)):
            if ref is not None:
                self.abort(ref)
            return None
        return BlobWriter(self, hexpart, expected_digest, expected_size, ref)

    def ingest_offset(self, ref: str) -> int:
        """How many bytes of the partial ingest ``ref`` are stored (0 if none)."""
        try:
            return os.stat(os.path.join(self._ref_dir(ref), "data")).st_size
        except FileNotFoundError:
            return 0

    def abort(self, ref: str) -> None:
        """Discard the partial ingest ``ref``."""
        _remove_tree(self._ref_dir(ref))

    def ingests(self) -> builtins.list[str]:
        """The refs of every partial ingest."""
        out = []
        for name in os.listdir(self.ingest_dir):
            try:
                with open(os.path.join(self.ingest_dir, name, "ref")) as f:
                    out.append(f.read())
            except (FileNotFoundError, NotADirectoryError):
                continue
        return sorted(out)

    def _ref_dir(self, ref: str, create: bool = False) -> str:
        d = os.path.join(self.ingest_dir, _sha256(ref.encode()).hexdigest()[:32])
        if create and not os.path.isdir(d):
            os.makedirs(d, mode=0o700, exist_ok=True)
            with open(os.path.join(d, "ref"), "w") as f:
                f.write(ref)
        return d


class BlobWriter:
    """One blob being written: ``write`` its bytes (hashed and counted as they come), then ``commit``
    (digest and size checked, fsynced, renamed into place).  Leaving the ``with`` block without a
    commit discards the data (a ref's partial data is kept for resuming, unless it was corrupt)."""

    def __init__(self, store: ContentStore, hexpart: str, expected_digest: str, expected_size: int | None,
                 ref: str | None) -> None:
        self.store = store
        self.final = os.path.join(store.blobs_dir, hexpart)
        self.expected_digest = expected_digest
        self.expected_size = expected_size
        self.work: str | None = None
        self.hash = _sha256()
        self.size = 0
        self.ok = self.corrupt = False
        if ref is not None:
            self.work = store._ref_dir(ref, create=True)
            self.data_path = os.path.join(self.work, "data")
            self.fd = os.open(self.data_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o600)
            try:
                with open(self.data_path, "rb") as old:
                    while chunk := old.read(CHUNK):
                        self.hash.update(chunk)
                        self.size += len(chunk)
            except BaseException:
                os.close(self.fd)
                raise
        else:
            self.data_path = os.path.join(store.ingest_dir,
                                          f"tmp-{hexpart[:16]}-{os.getpid()}-{os.urandom(4).hex()}")
            self.fd = os.open(self.data_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)

    def write(self, chunk: bytes) -> None:
        if self.expected_size is not None and self.size + len(chunk) > self.expected_size:
            self.corrupt = True
            raise DigestMismatch(
                f"blob {self.expected_digest}: more data than the expected size of {self.expected_size} bytes"
            )
        self.hash.update(chunk)
        view = memoryview(chunk)
        while view:
            view = view[os.write(self.fd, view):]
        self.size += len(chunk)

    def commit(self) -> str:
        """Check what was written and put it in place as the blob; returns the digest."""
        if self.expected_size is not None and self.size != self.expected_size:
            raise DigestMismatch(
                f"blob {self.expected_digest}: got {self.size} bytes, expected {self.expected_size} (truncated)"
            )
        got = "sha256:" + self.hash.hexdigest()
        if got != self.expected_digest:
            self.corrupt = True
            raise DigestMismatch(
                f"blob digest mismatch: expected {self.expected_digest}, got {got} ({self.size} bytes)")
        os.fchmod(self.fd, 0o444)
        os.fsync(self.fd)
        os.close(self.fd)
        self.fd = -1
        os.rename(self.data_path, self.final)
        _fsync_dir(self.store.blobs_dir)
        self.ok = True
        return self.expected_digest

    def __enter__(self) -> BlobWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1
        if self.work is None and not self.ok:
            _unlink(self.data_path)
        elif self.work is not None and (self.ok or self.corrupt):
            # A finished or corrupt partial ingest is gone; a short one stays for resuming.
            _remove_tree(self.work)


def _chunks(source: bytes | BinaryIO | Iterable[bytes]) -> Iterator[bytes]:
    if isinstance(source, (bytes, bytearray, memoryview)):
        yield bytes(source)
        return
    read = getattr(source, "read", None)
    if read is not None:
        while chunk := read(CHUNK):
            yield chunk
        return
    for chunk in source:
        if chunk:
            yield chunk


def _drain(source: bytes | BinaryIO | Iterable[bytes]) -> None:
    if not isinstance(source, (bytes, bytearray, memoryview)) and getattr(source, "read", None) is None:
        for _ in source:
            pass


def _fsync_dir(path: str) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def _remove_tree(path: str) -> None:
    import shutil

    shutil.rmtree(path, ignore_errors=True)
