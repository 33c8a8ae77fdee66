"""The supervisor of detached containers: one process per run root, the parent of all of them.

Why one process: a Python monitor per container costs ~8 MB of unique memory (measured: Pss of an
idle ``python -S -I``); one supervisor adds only its bookkeeping (a few KB) per container, which
keeps the host memory pallet adds per idle container far below conmon's ~0.33 MB.

It is started on demand by the first ``run -d``/``start`` (``ensure_running``), holds an exclusive
flock on ``<runroot>/monitor.lock`` for its life, listens on ``<runroot>/monitor.sock`` and is a
child subreaper, so that the init of every container it launches becomes its child.  It pumps each
container's output into its json-file log, reaps it, records its exit (``Engine.on_exit``), applies
the restart policy and ``--rm``, and exits when it has had nothing to watch for a short while.

Protocol: one JSON line per connection, ``{"op": "start", "id": ID}`` or ``{"op": "exec", "id": ID,
"process": PROCESS_FILE}`` (``exec -d``: the supervisor runs it, so that it is the parent that reaps
it, and stays up while it runs); the answer is one JSON line, ``{"ok": true, "pid": PID}`` or
``{"ok": false, "error": MESSAGE, "exit_code": N}``.  A client whose
connection is closed without an answer retries with a new supervisor (the old one was exiting).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import sys
import time

IDLE_EXIT = 0.3  # seconds without containers before the supervisor exits
RESTART_DELAY = 0.1  # docker's first restart delay, doubled per restart


def sock_path(runroot: str) -> str:
    return os.path.join(runroot, "monitor.sock")


def request(root: str, runroot: str, message: dict) -> dict:  # type: ignore[type-arg]
    """Send ``message`` to the supervisor of ``runroot`` (starting one if needed); its answer."""
    from pallet.errors import RuntimeFailure

    for _attempt in range(50):
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
        try:
            sock.connect(sock_path(runroot))
        except (FileNotFoundError, ConnectionRefusedError):
            sock.close()
            _spawn(root, runroot)
            continue
        try:
            sock.sendall(json.dumps(message).encode() + b"\n")
            data = b""
            while not data.endswith(b"\n"):
                chunk = sock.recv(65536)
                if not chunk:
                    break
                data += chunk
        except OSError:
            data = b""
        finally:
            sock.close()
        if data:
            answer = json.loads(data)
            assert isinstance(answer, dict)
            return answer
        time.sleep(0.02)
    raise RuntimeFailure(f"could not reach the container supervisor at {sock_path(runroot)}", step="monitor")


def _spawn(root: str, runroot: str) -> None:
    """Start a supervisor and wait until it listens (or another one does)."""
    import subprocess

    os.makedirs(runroot, exist_ok=True)
    r, w = os.pipe()
    proc = subprocess.Popen(
        [sys.executable, "-m", "pallet.engine.monitor", root, runroot, str(w)],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=open(os.path.join(runroot, "monitor.err"), "ab"),
        pass_fds=(w,), start_new_session=True, close_fds=True,
    )
    os.close(w)
    ready = os.read(r, 1)  # b"1" when it listens; b"" when it exited
    os.close(r)
    if not ready and proc.wait() != 0:
        from pallet.errors import RuntimeFailure

        try:
            with open(os.path.join(runroot, "monitor.err"), "rb") as f:
                last = f.read()[-2000:].decode(errors="replace").strip().splitlines()[-1:]
        except OSError:
            last = []
        raise RuntimeFailure(f"the container supervisor failed to start: {' '.join(last) or 'no message'}",
                             step="monitor")


class Supervisor:
    def __init__(self, root: str, runroot: str) -> None:
        import selectors

        from pallet.engine.service import Engine

        self.engine = Engine(root, runroot)
        self.sel = selectors.DefaultSelector()
        self.containers: dict[int, str] = {}  # pid -> container id
        self.streams: dict[int, tuple[str, str]] = {}  # fd -> (container id, stream)
        self.writers: dict[str, object] = {}
        self.pending: dict[str, float] = {}  # container id -> time of its restart
        self.execs: set[int] = set()  # pids of detached exec processes
        self.idle_since = time.monotonic()

    def serve(self, listener: socket.socket) -> None:
        import selectors

        wake_r, wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        signal.set_wakeup_fd(wake_w)
        signal.signal(signal.SIGCHLD, lambda *_: None)
        self.sel.register(listener, selectors.EVENT_READ, "listen")
        self.sel.register(wake_r, selectors.EVENT_READ, "wake")
        while True:
            timeout = 0.1
            for key, _ in self.sel.select(timeout):
                if key.data == "listen":
                    conn, _ = listener.accept()
                    self._handle(conn)
                elif key.data == "wake":
                    try:
                        os.read(wake_r, 4096)
                    except BlockingIOError:
                        pass
                else:
                    self._read(int(key.fd))
            self._reap()
            self._restarts()
            if self.containers or self.pending or self.streams or self.execs:
                self.idle_since = time.monotonic()
            elif time.monotonic() - self.idle_since > IDLE_EXIT:
                # Stop taking requests first; a client that connected but got no answer retries.
                os.unlink(sock_path(self.engine.runroot))
                listener.close()
                return

    def _handle(self, conn: socket.socket) -> None:
        from pallet.errors import PalletError

        with conn:
            conn.settimeout(5)
            data = b""
            while not data.endswith(b"\n"):
                chunk = conn.recv(65536)
                if not chunk:
                    return
                data += chunk
            msg = json.loads(data)
            try:
                if msg.get("op") == "start":
                    pid = self.launch(str(msg["id"]))
                elif msg.get("op") == "exec":
                    pid = self.exec_detached(str(msg["id"]), str(msg["process"]))
                else:
                    raise ValueError(f"unknown op {msg.get('op')!r}")
                answer: dict[str, object] = {"ok": True, "pid": pid}
            except PalletError as exc:
                answer = {"ok": False, "error": str(exc), "exit_code": exc.exit_code}
            except Exception as exc:
                answer = {"ok": False, "error": f"{type(exc).__name__}: {exc}", "exit_code": 125}
            try:
                conn.sendall(json.dumps(answer).encode() + b"\n")
            except OSError:
                pass

    def launch(self, cid: str) -> int:
        import selectors

        from pallet.engine.attach import console_listener, console_path, log_writer, receive_console

        record = self.engine.store.read(cid)
        devnull = os.open(os.devnull, os.O_RDWR | os.O_CLOEXEC)
        try:
            if record["Config"].get("Tty"):
                rundir = self.engine.rundir(cid)
                os.makedirs(rundir, exist_ok=True)
                path = console_path(rundir, cid)
                listener = console_listener(path)
                try:
                    pid = self.engine.launch(cid, (devnull, devnull, devnull), path)
                    fds: dict[int, str] = {receive_console(listener): "stdout"}
                finally:
                    if os.path.exists(path):
                        os.unlink(path)
            else:
                out_r, out_w = os.pipe2(os.O_CLOEXEC)
                err_r, err_w = os.pipe2(os.O_CLOEXEC)
                try:
                    pid = self.engine.launch(cid, (devnull, out_w, err_w))
                except BaseException:
                    os.close(out_r)
                    os.close(err_r)
                    raise
                finally:
                    os.close(out_w)
                    os.close(err_w)
                fds = {out_r: "stdout", err_r: "stderr"}
        finally:
            os.close(devnull)
        self.containers[pid] = cid
        self.writers[cid] = log_writer(record)
        for fd, stream in fds.items():
            os.set_blocking(fd, False)
            self.streams[fd] = (cid, stream)
            self.sel.register(fd, selectors.EVENT_READ, "stream")
        return pid

    def exec_detached(self, cid: str, process_file: str) -> int:
        """``exec -d``: run the process in the container as our child; its pid."""
        record = self.engine.store.read(cid)
        rt = self.engine.runtime(record["HostConfig"].get("Runtime") or self.engine.default_runtime())
        pid_file = os.path.join(self.engine.rundir(cid), f"exec-{os.getpid()}-{time.monotonic_ns()}.pid")
        try:
            rt.exec(cid, process_file, detach=True, pid_file=pid_file)
            with open(pid_file) as f:
                pid = int(f.read().strip())
        finally:
            try:
                os.unlink(pid_file)
            except FileNotFoundError:
                pass
        self.execs.add(pid)
        return pid

    def _read(self, fd: int) -> bool:
        """Copy what is in ``fd`` to its log; False when nothing more is there now."""
        cid, stream = self.streams[fd]
        try:
            data = os.read(fd, 65536)
        except BlockingIOError:
            return False
        except OSError:
            data = b""
        if not data:
            self._close_stream(fd)
            return False
        writer = self.writers.get(cid)
        if writer is not None:
            writer.write(stream, data)  # type: ignore[attr-defined]
        return True

    def _close_stream(self, fd: int) -> None:
        self.sel.unregister(fd)
        os.close(fd)
        del self.streams[fd]

    def _reap(self) -> None:
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            self.execs.discard(pid)
            cid = self.containers.pop(pid, None)
            if cid is not None:
                self._exited(cid, status)

    def _exited(self, cid: str, status: int) -> None:
        for fd, (owner, _stream) in list(self.streams.items()):
            if owner == cid:
                while fd in self.streams and self._read(fd):  # what the container wrote last
                    pass
                if fd in self.streams:
                    self._close_stream(fd)
        writer = self.writers.pop(cid, None)
        if writer is not None:
            writer.close()  # type: ignore[attr-defined]
        try:
            decision = self.engine.on_exit(cid, status)  # "removed": an auto-removed container is gone
            if decision == "restart":
                count = int(self.engine.store.read(cid).get("RestartCount", 1))
                self.pending[cid] = time.monotonic() + min(RESTART_DELAY * 2 ** (count - 1), 10.0)
        except Exception as exc:  # a removed container, a failing runtime: log and go on
            print(f"monitor: after the exit of {cid}: {exc}", file=sys.stderr)

    def _restarts(self) -> None:
        now = time.monotonic()
        for cid, when in list(self.pending.items()):
            if when > now:
                continue
            del self.pending[cid]
            try:
                record = self.engine.store.read(cid)
                if record["State"].get("Restarting") and not record.get("Pallet", {}).get("StopRequested"):
                    self.launch(cid)
            except Exception as exc:
                print(f"monitor: restart of {cid} failed: {exc}", file=sys.stderr)


def main(argv: list[str]) -> int:
    import fcntl

    from pallet._linux.prctl import set_child_subreaper

    root, runroot, ready_fd = argv[0], argv[1], int(argv[2])
    os.makedirs(runroot, exist_ok=True)
    lock = os.open(os.path.join(runroot, "monitor.lock"), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(ready_fd)  # another supervisor runs: the client will connect to it
        return 0
    with open("/proc/self/comm", "w") as comm:
        comm.write("pallet-monitor")
    set_child_subreaper(True)
    path = sock_path(runroot)
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
    listener.bind(path)
    listener.listen(128)
    os.write(ready_fd, b"1")
    os.close(ready_fd)
    Supervisor(root, runroot).serve(listener)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
