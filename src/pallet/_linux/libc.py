"""The C library handle, syscall numbers and the error type every wrapper raises."""

from __future__ import annotations

import os

from pallet._linux import ffi

libc = ffi.load(None)

_MACHINE = os.uname().machine

# Syscall numbers of the calls that the C library does not wrap on every supported version.
_SYSCALLS: dict[str, dict[str, int]] = {
    "x86_64": {
        "pivot_root": 155,
        "setns": 308,
        "open_tree": 428,
        "move_mount": 429,
        "fsopen": 430,
        "fsconfig": 431,
        "fsmount": 432,
        "pidfd_send_signal": 424,
        "pidfd_open": 434,
        "clone3": 435,
        "close_range": 436,
        "openat2": 437,
        "mount_setattr": 442,
        "bpf": 321,
        "seccomp": 317,
        "keyctl": 250,
        "capget": 125,
        "capset": 126,
    },
    "aarch64": {
        "pivot_root": 41,
        "setns": 268,
        "open_tree": 428,
        "move_mount": 429,
        "fsopen": 430,
        "fsconfig": 431,
        "fsmount": 432,
        "pidfd_send_signal": 424,
        "pidfd_open": 434,
        "clone3": 435,
        "close_range": 436,
        "openat2": 437,
        "mount_setattr": 442,
        "bpf": 280,
        "seccomp": 277,
        "keyctl": 219,
        "capget": 90,
        "capset": 91,
    },
}


class SyscallError(OSError):
    """A system call failed; the message names the call and its arguments."""

    def __init__(self, err: int, call: str, args: tuple[object, ...] = ()) -> None:
        self.call = call
        self.call_args = args
        shown = ", ".join(repr(a) for a in args)
        super().__init__(err, f"{call}({shown}): {os.strerror(err)}")


def syscall_number(name: str) -> int:
    """The number of syscall ``name`` on this machine's architecture."""
    try:
        return _SYSCALLS[_MACHINE][name]
    except KeyError:
        raise OSError(38, f"syscall {name} is not known on architecture {_MACHINE}") from None


_syscall = libc.syscall
_syscall.restype = ffi.c_long


def raw_syscall(name: str, *args: object, shown: tuple[object, ...] | None = None) -> int:
    """Call syscall ``name`` with ``args``; raise SyscallError naming it on failure."""
    ret = int(_syscall(ffi.c_long(syscall_number(name)), *args))
    if ret < 0:
        raise SyscallError(ffi.get_errno(), name, shown if shown is not None else args)
    return ret


def check(ret: int, call: str, args: tuple[object, ...]) -> int:
    """Raise SyscallError for a libc call that returned -1."""
    if ret < 0:
        raise SyscallError(ffi.get_errno(), call, args)
    return ret


def cstr(value: str | bytes | None) -> bytes | None:
    """A path or string argument as bytes (None stays None)."""
    if value is None:
        return None
    return os.fsencode(value)
