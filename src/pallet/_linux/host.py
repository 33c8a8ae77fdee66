"""Other process-level calls: hostname, personality, pidfds, close_range, keyrings, resource limits,
the CPU a process runs on."""

from __future__ import annotations

from pallet._linux import ffi
from pallet._linux.consts import KEYCTL_JOIN_SESSION_KEYRING
from pallet._linux.libc import check, cstr, libc, raw_syscall

_sethostname = libc.sethostname
_sethostname.argtypes = [ffi.c_char_p, ffi.c_size_t]
_setdomainname = libc.setdomainname
_setdomainname.argtypes = [ffi.c_char_p, ffi.c_size_t]
_personality = libc.personality
_personality.argtypes = [ffi.c_ulong]
_sched_getcpu = libc.sched_getcpu
_sched_getcpu.argtypes = []


class _Rlimit(ffi.Structure):
    _fields_ = [("cur", ffi.c_uint64), ("max", ffi.c_uint64)]


_prlimit = libc.prlimit
_prlimit.argtypes = [ffi.c_int, ffi.c_int, ffi.POINTER(_Rlimit), ffi.POINTER(_Rlimit)]


def sethostname(name: str) -> None:
    data = name.encode()
    check(_sethostname(data, len(data)), "sethostname", (name,))


def setdomainname(name: str) -> None:
    data = name.encode()
    check(_setdomainname(data, len(data)), "setdomainname", (name,))


def personality(persona: int) -> int:
    return check(_personality(persona), "personality", (hex(persona),))


def prlimit(resource: int, limits: tuple[int, int] | None = None) -> tuple[int, int]:
    """This process's (soft, hard) limit of ``resource`` (RLIMIT_*) before the call; set to
    ``limits`` when given (2**64-1 is unlimited).  The `resource` module would cost an extension
    module's load in the container's init."""
    old = _Rlimit()
    new = _Rlimit(*limits) if limits is not None else None
    check(_prlimit(0, resource, ffi.byref(new) if new is not None else None, ffi.byref(old)), "prlimit",
          (resource, limits))
    return int(old.cur), int(old.max)


def pidfd_open(pid: int, flags: int = 0) -> int:
    return raw_syscall("pidfd_open", pid, flags)


def pidfd_send_signal(pidfd: int, sig: int) -> None:
    raw_syscall("pidfd_send_signal", pidfd, sig, None, 0, shown=(pidfd, sig))


def close_range(first: int, last: int = 0xFFFFFFFF, flags: int = 0) -> None:
    raw_syscall("close_range", ffi.c_uint(first), ffi.c_uint(last), ffi.c_uint(flags),
                shown=(first, last, flags))


def join_session_keyring(name: str | None = None) -> int:
    """Join a new anonymous (or named) session keyring, as runc does for each container."""
    return raw_syscall("keyctl", KEYCTL_JOIN_SESSION_KEYRING, cstr(name), shown=(name,))


def sched_getcpu() -> int:
    """The CPU this thread runs on now (it may move at any time); -1 where the kernel cannot tell."""
    return int(_sched_getcpu())
