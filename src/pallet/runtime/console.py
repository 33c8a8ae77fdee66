"""Terminals: the container's pty (opened inside it), --console-socket, and the foreground proxy."""

from __future__ import annotations

import fcntl
import os
import struct

from pallet._linux import consts as c
from pallet.errors import ConfigError, RuntimeFailure


def open_pty(console_size: dict[str, object] | None) -> tuple[int, int, str]:
    """Open a new pty from the container's /dev/ptmx: (master, slave, slave path)."""
    master = os.open("/dev/ptmx", os.O_RDWR | os.O_NOCTTY | os.O_CLOEXEC)
    try:
        fcntl.ioctl(master, c.TIOCSPTLCK, struct.pack("i", 0))
        n = struct.unpack("I", fcntl.ioctl(master, c.TIOCGPTN, b"\0\0\0\0"))[0]
        path = f"/dev/pts/{n}"
        slave = os.open(path, os.O_RDWR | os.O_NOCTTY | os.O_CLOEXEC)
    except OSError as exc:
        os.close(master)
        raise RuntimeFailure(f"opening a pty in the container failed: {exc.strerror}", step="console") from exc
    if console_size:
        set_winsize(slave, int(console_size.get("height", 0) or 0), int(console_size.get("width", 0) or 0))  # type: ignore[call-overload]
    return master, slave, path


def set_winsize(fd: int, rows: int, cols: int) -> None:
    fcntl.ioctl(fd, c.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))


def make_controlling(slave: int) -> None:
    """Make ``slave`` the controlling terminal and stdio of this (session leader) process."""
    fcntl.ioctl(slave, c.TIOCSCTTY, 0)
    for fd in (0, 1, 2):
        os.dup2(slave, fd)
    if slave > 2:
        os.close(slave)


def send_to_socket(path: str, master: int) -> None:
    """Send the pty master to the --console-socket (an AF_UNIX stream socket), as runc does."""
    import socket

    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.connect(path)
            socket.send_fds(s, [b"/dev/ptmx"], [master])
    except OSError as exc:
        raise ConfigError(f"--console-socket {path!r}: cannot send the console: {exc.strerror or exc}") from None


def proxy(master: int, child_pid: int) -> None:
    """Copy between our terminal and the container's pty until the pty closes (foreground run)."""
    import select
    import signal
    import termios
    import tty

    stdin = 0
    interactive = os.isatty(stdin)
    saved = None
    if interactive:
        saved = termios.tcgetattr(stdin)
        tty.setraw(stdin)

        def resize(_sig: int, _frame: object) -> None:
            try:
                rows, cols = struct.unpack("HHHH", fcntl.ioctl(stdin, termios.TIOCGWINSZ, b"\0" * 8))[:2]
                set_winsize(master, rows, cols)
            except OSError:
                pass

        signal.signal(signal.SIGWINCH, resize)
        resize(0, None)
    watch = [master, stdin]
    try:
        while True:
            try:
                ready, _, _ = select.select(watch, [], [])
            except InterruptedError:
                continue
            if master in ready:
                try:
                    data = os.read(master, 65536)
                except OSError:
                    data = b""
                if not data:
                    break
                os.write(1, data)
            if stdin in ready:
                data = os.read(stdin, 65536)
                if not data:
                    watch.remove(stdin)
                    continue
                os.write(master, data)
    finally:
        if saved is not None:
            termios.tcsetattr(stdin, termios.TCSADRAIN, saved)
