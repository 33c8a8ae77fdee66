"""Running a container in the foreground: the CLI process is its monitor.

The caller becomes a child subreaper, launches the container with pipes (or a pty for ``-t``), copies
its output to the terminal and into the json-file log, forwards SIGINT/SIGTERM/SIGHUP to it, reaps it
and records its exit.  Returns the container's exit code.
"""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

    from pallet.engine.logs import LogWriter
    from pallet.engine.service import Engine


def _reap(pid: int) -> int:
    """Wait for ``pid`` (reaping any other orphan that reparented to us); its wait status."""
    while True:
        try:
            got, status = os.waitpid(-1, 0)
        except ChildProcessError:
            return 255 << 8
        except InterruptedError:
            continue
        if got == pid:
            return status


def console_path(rundir: str, cid: str) -> str:
    """A console socket path short enough for AF_UNIX (108 bytes) even under deep run roots."""
    path = os.path.join(rundir, "console.sock")
    if len(path) < 100:
        return path
    return f"/tmp/pallet-console-{cid[:12]}-{os.getpid()}.sock"


def console_listener(path: str) -> object:
    import socket

    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.bind(path)
    sock.listen(1)
    return sock


def receive_console(sock: object) -> int:
    """The pty master the runtime sends over the console socket (SCM_RIGHTS)."""
    import socket

    assert isinstance(sock, socket.socket)
    sock.settimeout(10)
    conn, _ = sock.accept()
    with conn:
        _msg, fds, _flags, _addr = socket.recv_fds(conn, 4096, 1)
    sock.close()
    if not fds:
        from pallet.errors import RuntimeFailure

        raise RuntimeFailure("the runtime did not send the terminal's master over the console socket", step="console")
    return fds[0]


def log_writer(record: dict) -> LogWriter | None:  # type: ignore[type-arg]
    from pallet.engine.logs import LogWriter

    if not record.get("LogPath"):
        return None
    return LogWriter.for_config(record["LogPath"], record["HostConfig"].get("LogConfig") or {})


def run_foreground(engine: Engine, cid: str, *, interactive: bool, tty: bool) -> int:
    from pallet._linux.prctl import set_child_subreaper

    set_child_subreaper(True)
    record = engine.store.read(cid)
    writer = log_writer(record)
    devnull = os.open(os.devnull, os.O_RDWR | os.O_CLOEXEC)
    stdin = 0 if interactive else devnull
    sources: dict[int, tuple[str, int]] = {}
    master = -1
    restore: Callable[[], None] | None = None
    if tty:
        rundir = engine.rundir(cid)
        os.makedirs(rundir, exist_ok=True)
        path = console_path(rundir, cid)
        listener = console_listener(path)
        try:
            pid = engine.launch(cid, (devnull, devnull, devnull), path)
            master = receive_console(listener)
        finally:
            if os.path.exists(path):
                os.unlink(path)
        _copy_winsize(master)
        sources[master] = ("stdout", 1)
        if interactive and os.isatty(0):
            restore = _raw(0)
    else:
        out_r, out_w = os.pipe2(os.O_CLOEXEC)
        err_r, err_w = os.pipe2(os.O_CLOEXEC)
        try:
            pid = engine.launch(cid, (stdin, out_w, err_w))
        finally:
            os.close(out_w)
            os.close(err_w)
        sources[out_r] = ("stdout", 1)
        sources[err_r] = ("stderr", 2)
    os.close(devnull)
    import gc

    gc.enable()  # `pallet run` turned it off for the set-up; the container may run for long
    forward_signals(pid)
    try:
        pump(sources, writer, stdin_to=master if (tty and interactive) else -1)
    finally:
        if restore is not None:
            restore()
    status = _reap(pid)
    if writer is not None:
        writer.close()
    if master >= 0:
        os.close(master)
    from pallet.engine.service import exit_status

    if engine.on_exit(cid, status) == "removed":  # --rm: removed under the same lock
        return exit_status(status)
    record = engine.store.read(cid)
    if record["HostConfig"].get("AutoRemove"):  # an exit recorded by someone else first
        engine.remove(cid)
    return int(record["State"]["ExitCode"])


def forward_signals(pid: int) -> None:
    """Pass SIGINT, SIGTERM and SIGHUP received by this process on to ``pid`` (docker's sig-proxy)."""
    # _signal, not signal: the signal module imports enum (~2 ms of every run).
    import _signal

    def forward(signum: int, _frame: object) -> None:
        try:
            os.kill(pid, signum)
        except ProcessLookupError:
            pass

    for signum in (2, 15, 1):  # SIGINT, SIGTERM, SIGHUP
        _signal.signal(signum, forward)


def pump(sources: dict[int, tuple[str, int]], writer: LogWriter | None, stdin_to: int = -1) -> None:
    """Copy every source fd to its terminal fd and the log until all reach end of file."""
    import select  # poll directly: selectors imports collections.abc, math and enum's users

    poller = select.poll()
    readable = select.POLLIN | select.POLLHUP | select.POLLERR
    for fd in sources:
        poller.register(fd, readable)
    if stdin_to >= 0:
        poller.register(0, readable)
    open_fds = set(sources)
    while open_fds:
        try:
            events = poller.poll()
        except InterruptedError:
            continue
        for fd, _mask in events:
            if fd == 0 and stdin_to >= 0:
                data = os.read(0, 65536)
                if not data:
                    poller.unregister(0)
                else:
                    os.write(stdin_to, data)
                continue
            if fd not in open_fds:
                continue
            try:
                data = os.read(fd, 65536)
            except OSError:  # EIO: the pty's other side is closed
                data = b""
            if not data:
                poller.unregister(fd)
                open_fds.discard(fd)
                if fd not in (0,) and fd != stdin_to:
                    os.close(fd)
                continue
            stream, out = sources[fd]
            try:
                os.write(out, data)
            except OSError:
                pass
            if writer is not None:
                writer.write(stream, data)


def _copy_winsize(master: int) -> None:
    import termios

    for fd in (0, 1):
        if os.isatty(fd):
            try:
                termios.tcsetwinsize(master, termios.tcgetwinsize(fd))
            except OSError:
                pass
            return


def _raw(fd: int) -> Callable[[], None]:
    import termios
    import tty as ttymod

    old = termios.tcgetattr(fd)
    ttymod.setraw(fd)

    def restore() -> None:
        termios.tcsetattr(fd, termios.TCSADRAIN, old)

    sys.stdout.flush()
    return restore
