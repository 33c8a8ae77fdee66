"""The embedded DNS responder of a user network.

One small UDP responder per user network, bound on the network's gateway address port 53, answers
A queries for the names, aliases and short ids of the containers on that network. It reads its
records from a JSON file (``{"name": ["ip", ...]}``) that the store rewrites on every connect and
disconnect; the file's mtime is checked on each query. Names it does not know get REFUSED (there is
no outside network to forward to), so a resolver moves on to its next server. It exits by itself
when its records file is removed, and on SIGTERM.

The socket is bound by the caller (so that it answers from the first query on, without waiting for
an interpreter to start) and handed to a detached process: ``python -m pallet.network.dns FD PATH``.
"""

from __future__ import annotations

import os
import struct
import sys

QTYPE_A, QTYPE_AAAA, QCLASS_IN = 1, 28, 1
RCODE_OK, RCODE_FORMERR, RCODE_SERVFAIL, RCODE_NXDOMAIN, RCODE_NOTIMP, RCODE_REFUSED = 0, 1, 2, 3, 4, 5
TTL = 600


def parse_question(packet: bytes) -> tuple[int, int, str, int, int, int]:
    """(id, flags, qname, qtype, qclass, end offset of the question). ValueError if malformed."""
    if len(packet) < 12:
        raise ValueError("short header")
    ident, flags, qdcount = struct.unpack("!HHH", packet[:6])
    if qdcount != 1:
        raise ValueError("expected one question")
    labels: list[str] = []
    pos = 12
    while True:
        if pos >= len(packet):
            raise ValueError("truncated name")
        length = packet[pos]
        pos += 1
        if length == 0:
            break
        if length > 63:
            raise ValueError("compressed or bad label in question")
        labels.append(packet[pos:pos + length].decode("ascii", errors="replace"))
        pos += length
    if pos + 4 > len(packet):
        raise ValueError("truncated question")
    qtype, qclass = struct.unpack("!HH", packet[pos:pos + 4])
    return ident, flags, ".".join(labels), qtype, qclass, pos + 4


def answer(packet: bytes, records: dict[str, list[str]]) -> bytes | None:
    """The response to one query packet (None for a packet that is itself a response)."""
    try:
        ident, flags, qname, qtype, qclass, end = parse_question(packet)
    except ValueError:
        if len(packet) < 2:
            return None
        return struct.pack("!HHHHHH", struct.unpack("!H", packet[:2])[0], 0x8000 | RCODE_FORMERR, 0, 0, 0, 0)
    if flags & 0x8000:
        return None
    question = packet[12:end]
    opcode = (flags >> 11) & 0xF
    addresses = records.get(qname.lower().rstrip("."))
    answers: list[bytes] = []
    if opcode != 0:
        rcode = RCODE_NOTIMP
    elif addresses is None:
        rcode = RCODE_REFUSED
    else:
        rcode = RCODE_OK
        if qtype == QTYPE_A and qclass == QCLASS_IN:
            for ip in addresses:
                rdata = bytes(int(x) for x in ip.split("."))
                answers.append(struct.pack("!HHHIH", 0xC00C, QTYPE_A, QCLASS_IN, TTL, 4) + rdata)
    # QR, the opcode and RD copied, RA set (we answer for the names we hold), the rcode.
    out_flags = 0x8000 | (flags & 0x7900) | 0x0400 * (rcode == RCODE_OK) | 0x0080 | rcode
    header = struct.pack("!HHHHHH", ident, out_flags, 1, len(answers), 0, 0)
    return header + question + b"".join(answers)


def load_records(path: str) -> dict[str, list[str]]:
    import json

    with open(path) as f:
        data = json.load(f)
    return {str(k).lower(): list(v) for k, v in data.items()}


def serve(sock_fd: int, records_path: str) -> None:
    """Answer queries on the bound UDP socket ``sock_fd`` until the records file goes away."""
    import select
    import signal
    import socket

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    sock = socket.socket(fileno=sock_fd)
    records: dict[str, list[str]] = {}
    stamp = -1
    while True:
        try:
            mtime = os.stat(records_path).st_mtime_ns
        except FileNotFoundError:
            return
        if mtime != stamp:
            try:
                records, stamp = load_records(records_path), mtime
            except (OSError, ValueError):
                pass
        ready, _, _ = select.select([sock], [], [], 2.0)
        if not ready:
            continue
        try:
            packet, peer = sock.recvfrom(4096)
        except OSError:
            continue
        try:
            mtime = os.stat(records_path).st_mtime_ns
            if mtime != stamp:
                records, stamp = load_records(records_path), mtime
        except (OSError, ValueError):
            pass
        reply = answer(packet, records)
        if reply is not None:
            try:
                sock.sendto(reply, peer)
            except OSError:
                pass


def bind(address: str, port: int = 53) -> int:
    """A UDP socket bound on ``address:port`` (IP_FREEBIND: the address may still be coming up)."""
    import socket

    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        s.setsockopt(socket.IPPROTO_IP, 15, 1)  # IP_FREEBIND
        s.bind((address, port))
    except BaseException:
        s.close()
        raise
    return s.detach()


def spawn(address: str, records_path: str, pid_path: str) -> int:
    """Start a detached responder for ``address`` and record its pid and start time in ``pid_path``."""
    from pallet._linux.procfs import start_time

    fd = bind(address)
    try:
        rfd, wfd = os.pipe()
        pid = os.fork()
        if pid == 0:  # pragma: no cover - child
            try:
                os.close(rfd)
                os.setsid()
                grandchild = os.fork()
                if grandchild:
                    os.write(wfd, str(grandchild).encode())
                    os._exit(0)
                os.close(wfd)
                null = os.open(os.devnull, os.O_RDWR)
                for target in (0, 1, 2):
                    os.dup2(null, target)
                os.set_inheritable(fd, True)
                os.execv(sys.executable, [sys.executable, "-m", "pallet.network.dns", str(fd), records_path])
            finally:
                os._exit(127)
        os.close(wfd)
        try:
            data = b""
            while chunk := os.read(rfd, 32):
                data += chunk
        finally:
            os.close(rfd)
        os.waitpid(pid, 0)
    finally:
        os.close(fd)
    server = int(data)
    from pallet.atomicfile import write_atomic

    write_atomic(pid_path, f"{server} {start_time(server)}\n")
    return server


def running(pid_path: str) -> int | None:
    """The pid of the responder recorded in ``pid_path`` if it still runs (same start time)."""
    from pallet._linux.procfs import is_alive

    try:
        with open(pid_path) as f:
            pid_text, started = f.read().split()
    except (FileNotFoundError, ValueError):
        return None
    pid = int(pid_text)
    return pid if is_alive(pid, int(started) if started != "None" else None) else None


def stop(pid_path: str, timeout: float = 2.0) -> None:
    """Stop the responder recorded in ``pid_path`` (if it runs) and wait until it is gone."""
    import signal
    import time

    from pallet._linux.procfs import is_alive, start_time

    pid = running(pid_path)
    if pid is not None:
        started = start_time(pid)
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while is_alive(pid, started) and time.monotonic() < deadline:
            time.sleep(0.005)
        if is_alive(pid, started):
            os.kill(pid, signal.SIGKILL)
    try:
        os.unlink(pid_path)
    except FileNotFoundError:
        pass


if __name__ == "__main__":  # pragma: no cover - exercised by the integration tests
    serve(int(sys.argv[1]), sys.argv[2])
