"""prctl(2) options used by the runtime."""

from __future__ import annotations

from pallet._linux import consts as c
from pallet._linux import ffi
from pallet._linux.libc import check, libc

_prctl = libc.prctl
_prctl.argtypes = [ffi.c_int, ffi.c_ulong, ffi.c_ulong, ffi.c_ulong, ffi.c_ulong]


def prctl(option: int, arg2: int = 0, arg3: int = 0, arg4: int = 0, arg5: int = 0) -> int:
    return check(_prctl(option, arg2, arg3, arg4, arg5), "prctl", (option, arg2, arg3))


def set_no_new_privs() -> None:
    prctl(c.PR_SET_NO_NEW_PRIVS, 1)


def get_no_new_privs() -> bool:
    return prctl(c.PR_GET_NO_NEW_PRIVS) == 1


def set_dumpable(on: bool) -> None:
    prctl(c.PR_SET_DUMPABLE, 1 if on else 0)


def set_keepcaps(on: bool) -> None:
    prctl(c.PR_SET_KEEPCAPS, 1 if on else 0)


def set_child_subreaper(on: bool = True) -> None:
    prctl(c.PR_SET_CHILD_SUBREAPER, 1 if on else 0)


def set_pdeathsig(sig: int) -> None:
    prctl(c.PR_SET_PDEATHSIG, sig)


def set_name(name: str) -> None:
    buf = ffi.create_string_buffer(name.encode()[:15])
    check(libc.prctl(c.PR_SET_NAME, buf, 0, 0, 0), "prctl", ("PR_SET_NAME", name))


def capbset_read(cap: int) -> bool:
    return prctl(c.PR_CAPBSET_READ, cap) == 1


def capbset_drop(cap: int) -> None:
    prctl(c.PR_CAPBSET_DROP, cap)


def ambient_raise(cap: int) -> None:
    prctl(c.PR_CAP_AMBIENT, c.PR_CAP_AMBIENT_RAISE, cap)


def ambient_clear_all() -> None:
    prctl(c.PR_CAP_AMBIENT, c.PR_CAP_AMBIENT_CLEAR_ALL)
