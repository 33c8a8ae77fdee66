"""Network interfaces of the calling thread's network namespace, by ioctl on a socket (no process).

``_socket`` rather than ``socket`` (whose enums and selectors cost milliseconds at start).
"""

from __future__ import annotations

import _socket
import fcntl

SIOCGIFFLAGS = 0x8913
SIOCSIFFLAGS = 0x8914
SIOCBRADDIF = 0x89A2
IFF_UP = 0x1
_IFREQ = 40  # struct ifreq: 16 bytes of name, then a union of 24


def _ifreq(name: str, value: bytes = b"") -> bytes:
    raw = name.encode()
    if not raw or len(raw) > 15:
        raise ValueError(f"interface name {name!r} is not 1-15 bytes long")
    return raw.ljust(16, b"\0") + value.ljust(_IFREQ - 16, b"\0")


def link_up(name: str, *, master: str = "") -> None:
    """Bring link ``name`` up (SIOCSIFFLAGS), first enslaving it to bridge ``master`` (SIOCBRADDIF)."""
    s = _socket.socket(_socket.AF_INET, _socket.SOCK_DGRAM | _socket.SOCK_CLOEXEC)
    try:
        if master:
            index = _socket.if_nametoindex(name)
            fcntl.ioctl(s.fileno(), SIOCBRADDIF, _ifreq(master, index.to_bytes(4, "little", signed=True)))
        got = fcntl.ioctl(s.fileno(), SIOCGIFFLAGS, _ifreq(name))
        flags = int.from_bytes(got[16:18], "little")
        if not flags & IFF_UP:
            fcntl.ioctl(s.fileno(), SIOCSIFFLAGS, _ifreq(name, (flags | IFF_UP).to_bytes(2, "little")))
    finally:
        s.close()
