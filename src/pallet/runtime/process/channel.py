"""The channel between the runtime and the processes it forks.

A SOCK_SEQPACKET socketpair: every message is one datagram holding a small JSON object with a
``type`` field, and may carry file descriptors (SCM_RIGHTS).  An unexpected message is an error that
names what was expected and what came.

The protocol of ``create`` (P = the runtime, I = the intermediate child, C = the container's init).
Where P forks C itself (Setup.direct: no intermediate), only the messages between P and C are sent,
and on "go" C joins the cgroup itself where the host allows that (self_joins):

    =====  ==========  =================================================================
    from   type        meaning
    =====  ==========  =================================================================
    P->I   setup       only to a child forked early (process.prefork): ``size``, then that
                       many bytes (Setup as marshal data), with the Setup's fds
    P->I   cgroup_made P made the cgroup (and wrote its limits): I joins it itself (where the
                       host allows that without the kernel's global lock: self_joins),
                       before it forks C
    I->P   userns      I unshared a user namespace: P writes uid_map and gid_map
    P->I   maps_done   the maps are written
    I->P   init_pid    I forked C; ``pid`` is C's pid in P's PID namespace; I exits
    P->C   go          P has put C into the container's cgroup, or made it for C to join
                       (direct) (C builds the rootfs meanwhile):
                       C may now make its cgroup namespace, mount cgroups and run hooks
                       (for exec: P->I, before I forks the process)
    C->P   hooks       C is in its namespaces, before pivot_root: P runs prestart and
                       createRuntime hooks, then answers hooks_done
    P->C   hooks_done
    C->P   console     with one fd: the pty master (process.terminal)
    C->P   seccomp_listener  with one fd: the seccomp notify listener (listenerPath)
    C->P   ready       everything is set up: C now waits on exec.fifo for ``start``
    any    error       ``message``, ``step``, ``errno``, ``exit_code``: the sender failed
    =====  ==========  =================================================================

The socket module itself is not imported (it costs an enum import at start); _socket is enough.
"""

from __future__ import annotations

import _socket
import os
import sys

from pallet import fastjson
from pallet.errors import CommandNotFound, CommandNotInvokable, RuntimeFailure

_MAX = 65536


class Channel:
    """One end of the socketpair."""

    def __init__(self, sock: _socket.socket) -> None:
        self.sock = sock

    @staticmethod
    def pair() -> tuple[Channel, Channel]:
        a, b = _socket.socketpair(_socket.AF_UNIX, _socket.SOCK_SEQPACKET | _socket.SOCK_CLOEXEC)
        return Channel(a), Channel(b)

    def fileno(self) -> int:
        return int(self.sock.fileno())

    def close(self) -> None:
        self.sock.close()

    def send(self, mtype: str, fds: list[int] | None = None, **fields: object) -> None:
        fields["type"] = mtype
        data = fastjson.dumps(fields).encode()
        if fds:
            packed = b"".join(fd.to_bytes(4, sys.byteorder, signed=True) for fd in fds)
            anc = [(_socket.SOL_SOCKET, _socket.SCM_RIGHTS, packed)]
            self.sock.sendmsg([data], anc)
        else:
            self.sock.send(data)

    def send_blob(self, mtype: str, blob: bytes, fds: list[int] | None = None) -> None:
        """Bytes of any size: a ``mtype`` message with their size (and the fds), then the bytes in
        datagrams of at most 60000 (one datagram may not exceed the socket's buffer)."""
        self.send(mtype, fds=fds, size=len(blob))
        view = memoryview(blob)
        for i in range(0, len(blob), 60000):
            self.sock.send(view[i:i + 60000])

    def recv_blob(self, mtype: str, who: str) -> tuple[bytes, list[int]]:
        """What send_blob sent."""
        msg, fds = self.expect(mtype, who=who)
        size = msg.get("size")
        assert isinstance(size, int)
        parts: list[bytes] = []
        got = 0
        while got < size:
            part = self.sock.recv(_MAX)
            if not part:
                raise RuntimeFailure(f"{who} closed the channel in the middle of {mtype!r}", step=mtype)
            parts.append(part)
            got += len(part)
        return b"".join(parts), fds

    def recv(self) -> tuple[dict[str, object], list[int]]:
        """The next message and its fds; an empty dict when the other end closed."""
        try:
            data, anc, _flags, _addr = self.sock.recvmsg(_MAX, _socket.CMSG_SPACE(4 * 8))
        except ConnectionResetError:
            # A child that exits with a message of ours unread (a "go" sent as it failed) makes
            # the kernel report ECONNRESET once, ahead of what the children sent before they
            # went (their error): read on.
            data, anc, _flags, _addr = self.sock.recvmsg(_MAX, _socket.CMSG_SPACE(4 * 8))
        fds: list[int] = []
        for level, kind, payload in anc:
            if level == _socket.SOL_SOCKET and kind == _socket.SCM_RIGHTS:
                # (array would do this, but it imports collections: milliseconds at every start)
                for i in range(0, len(payload) - len(payload) % 4, 4):
                    fds.append(int.from_bytes(payload[i : i + 4], sys.byteorder, signed=True))
        for fd in fds:
            os.set_inheritable(fd, False)
        if not data:
            return {}, fds
        msg = fastjson.loads(data)
        if not isinstance(msg, dict):
            raise RuntimeFailure(f"bad message on the runtime channel: {data!r}")
        return msg, fds

    def expect(self, *types: str, who: str) -> tuple[dict[str, object], list[int]]:
        """The next message, which must be one of ``types``; an error message is raised."""
        msg, fds = self.recv()
        mtype = msg.get("type")
        if mtype in types:
            return msg, fds
        for fd in fds:
            os.close(fd)
        if mtype == "error":
            raise error_from_message(msg)
        if not msg:
            raise RuntimeFailure(f"{who} exited before sending {' or '.join(types)}", step=types[0])
        raise RuntimeFailure(f"unexpected message {mtype!r} from {who} (expected {' or '.join(types)})")

    def send_error(self, exc: BaseException, step: str) -> None:
        """Report an exception to the other end (best effort)."""
        errno = getattr(exc, "errno", 0) or 0
        code = getattr(exc, "exit_code", 0) or 0
        kind = type(exc).__name__
        try:
            self.send("error", message=str(exc), step=step, errno=errno, exit_code=code, kind=kind)
        except OSError:
            # After "ready" nobody listens: the container's stderr is the only place left.
            try:
                os.write(2, f"pallet-runtime: {step}: {exc}\n".encode())
            except OSError:
                pass


def error_from_message(msg: dict[str, object]) -> RuntimeFailure:
    text = str(msg.get("message", "unknown error"))
    step = str(msg.get("step", ""))
    errno = msg.get("errno", 0)
    code = msg.get("exit_code", 0)
    full = f"{step}: {text}" if step and not text.startswith(step) else text
    cls: type[RuntimeFailure] = RuntimeFailure
    if code == 127:
        cls = CommandNotFound
    elif code == 126:
        cls = CommandNotInvokable
    err = cls(full, step=step, errno=int(errno) if isinstance(errno, int) else 0)
    return err
