"""Layer compression: found by magic number, undone in-process or by the host's gzip decompressor.

``decompressed(stream)`` returns the uncompressed stream and the compression's name.  gzip is the
common case (registries serve gzip layers) and the costliest part of applying a big layer in Python;
a blob larger than ``HOST_GZIP_MIN`` is decompressed by the host's ``unpigz``/``pigz``/``gzip`` (a
host binary found on the host's PATH, never one from an image) in a child process, so that
decompression runs on another core while this process parses and writes the tar.  Its output is
read in large chunks.  A failure of the child (corrupt or truncated data) is a ``DecompressError``
(an OSError) naming the binary and its message; ``close()`` ends the child when the reader stops
early (an error, a size limit).  Smaller blobs, and hosts without such a binary, use Python's gzip.
"""

from __future__ import annotations

import os

TYPE_CHECKING = False
if TYPE_CHECKING:
    import subprocess
    import threading
    from typing import BinaryIO

HOST_GZIP_MIN = 1 << 20  # compressed bytes: below this, starting a process costs more than it saves
_HOST_GZIP = ("unpigz", "pigz", "gzip")
_PIPE_SIZE = 1 << 20
_READ = 1 << 20


class DecompressError(OSError):
    """The compressed stream is corrupt or truncated (said by the decompressor), or cannot be read."""


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


class Prefixed:
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

    def close(self) -> None:
        pass


def host_gzip() -> str | None:
    """The host's gzip decompressor (absolute path), or None; ``PALLET_HOST_GZIP=0`` disables it."""
    if os.environ.get("PALLET_HOST_GZIP", "1") in ("0", "false", "no"):
        return None
    import shutil

    for name in _HOST_GZIP:
        path = shutil.which(name, path=os.environ.get("PATH") or os.defpath)
        if path is not None:
            return path
    return None


class HostGzip:
    """The output of the host's gzip decompressor fed with ``head`` then the rest of ``source``.

    A thread copies the compressed stream into the child's stdin (the source may be any stream:
    a blob file, a member of an archive, stdin); ``read`` returns the child's output.  At the end
    of the output the child's exit status is checked: non-zero is an OSError with its message.
    """

    def __init__(self, binary: str, head: bytes, source: BinaryIO) -> None:
        import subprocess
        import threading

        self.binary = binary
        self.proc: subprocess.Popen[bytes] = subprocess.Popen(
            [binary, "-d", "-c"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            close_fds=True, env={"PATH": os.defpath, "LC_ALL": "C"},
        )
        assert self.proc.stdin is not None and self.proc.stdout is not None and self.proc.stderr is not None
        self.out = self.proc.stdout.fileno()
        self._grow_pipe(self.out)
        self._grow_pipe(self.proc.stdin.fileno())
        self.feed_error: BaseException | None = None
        self.done = False
        self.feeder: threading.Thread = threading.Thread(
            target=self._feed, args=(head, source), name="gzip-feed", daemon=True)
        self.feeder.start()

    @staticmethod
    def _grow_pipe(fd: int) -> None:
        import fcntl

        try:
            fcntl.fcntl(fd, 1031, _PIPE_SIZE)  # F_SETPIPE_SZ: fewer, larger reads
        except OSError:
            pass

    def _feed(self, head: bytes, source: BinaryIO) -> None:
        stdin = self.proc.stdin
        assert stdin is not None
        try:
            chunk = head
            while chunk:
                stdin.write(chunk)
                chunk = source.read(_READ)
        except BrokenPipeError:
            pass  # the child stopped reading: it failed, or close() ended it
        except BaseException as e:  # a read error of the source: reported by read()
            self.feed_error = e
        finally:
            try:
                stdin.close()
            except OSError:
                pass

    def read(self, n: int = -1) -> bytes:
        if self.done:
            return b""
        want = _READ if n is None or n < 0 else min(n, _READ)
        data = os.read(self.out, want)
        if not data:
            self._finish()
        return data

    def readable(self) -> bool:
        return True

    def _finish(self) -> None:
        self.done = True
        self.feeder.join()
        assert self.proc.stderr is not None
        message = self.proc.stderr.read().decode("utf-8", "replace").strip()
        code = self.proc.wait()
        self._close_pipes()
        if self.feed_error is not None:
            raise DecompressError(f"reading the compressed layer: {self.feed_error}")
        if code != 0:
            name = os.path.basename(self.binary)
            raise DecompressError(f"{name} -d: {message or 'failed'} (exit status {code})")

    def _close_pipes(self) -> None:
        for f in (self.proc.stdout, self.proc.stderr):
            if f is not None:
                f.close()

    def interrupt(self) -> None:
        """End the child if it is still running, so that a ``read`` blocked on it (in another
        thread) returns; ``close`` follows, once that thread is done with the stream."""
        if self.proc.returncode is None:
            self.proc.kill()

    def close(self) -> None:
        """End the child if it is still running (the reader stopped early) and reap it."""
        if self.proc.returncode is None:
            self.proc.kill()
            self.proc.wait()
        self.done = True
        self.feeder.join()
        self._close_pipes()


def decompressed(stream: BinaryIO) -> tuple[BinaryIO, str]:
    """The uncompressed stream of a layer blob (compression detected by magic), and its compression.

    The returned stream has ``close()``; call it when done (it ends a child decompressor).
    """
    head = stream.read(6)
    kind = compression_of(head)
    if kind == "gzip":
        more = stream.read(HOST_GZIP_MIN)
        head += more
        binary = host_gzip() if len(more) == HOST_GZIP_MIN else None
        if binary is not None:
            return HostGzip(binary, head, stream), kind  # type: ignore[return-value]
    raw: BinaryIO = Prefixed(head, stream)  # type: ignore[assignment]
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
