"""Processes on a pseudo-terminal of the test's own, and reading what they write to it."""

from __future__ import annotations

import os
import pty
import select
import time
from collections.abc import Callable


def spawn_in_pty(argv: list[str], env: dict[str, str] | None = None) -> tuple[int, int]:
    """Start ``argv`` (its first item a path) with a new pty as its controlling terminal and stdio:
    (its pid, the pty's master)."""
    pid, master = pty.fork()
    if pid == 0:
        try:
            os.execve(argv[0], argv, os.environ if env is None else env)
        finally:
            os._exit(127)
    return pid, master


def _as_test(done: bytes | Callable[[bytes], bool]) -> Callable[[bytes], bool]:
    if isinstance(done, bytes):
        marker = done
        return lambda out: marker in out
    return done


class PtyReader:
    """What the other side of a pty master (or of any fd) has written so far, read as it comes."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.out = b""
        self.closed = False  # the other side is gone: end of file, or EIO on a pty master

    def read_until(self, done: bytes | Callable[[bytes], bool], timeout: float = 15) -> bool:
        """Read until ``done`` (bytes to see, or a test of all read so far) holds, the other side is
        gone, or ``timeout`` seconds have passed; return whether ``done`` holds."""
        test = _as_test(done)
        deadline = time.monotonic() + timeout
        while not test(self.out) and not self.closed:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            ready, _, _ = select.select([self.fd], [], [], min(left, 0.5))
            if not ready:
                continue
            try:
                chunk = os.read(self.fd, 65536)
            except OSError:
                chunk = b""
            self.closed = not chunk
            self.out += chunk
        return test(self.out)

    def read_to_end(self, timeout: float = 15) -> bytes:
        """Read until the other side is gone (or ``timeout``); all read so far."""
        self.read_until(lambda _: False, timeout)
        return self.out
