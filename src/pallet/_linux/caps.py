"""Capabilities: names, numbers, capget/capset.

The names and numbers need no C types (the runtime's parent reads a config with them before it has
any other use for them): capget and capset import ffi when first called.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from pallet._linux import ffi

# Index = capability number (linux/capability.h).
CAP_NAMES: tuple[str, ...] = (
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL",
    "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO", "CAP_SYS_CHROOT", "CAP_SYS_PTRACE", "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT",
    "CAP_SYS_NICE", "CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE",
    "CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE", "CAP_MAC_ADMIN", "CAP_SYSLOG",
    "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ", "CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE",
)
CAP_NUMBERS: dict[str, int] = {name: i for i, name in enumerate(CAP_NAMES)}

_VERSION_3 = 0x20080522


_structs: tuple[type[ffi.Structure], type[ffi.Structure]] | None = None


def _types() -> tuple[type[ffi.Structure], type[ffi.Structure]]:
    """The header and data structures of capget/capset (made once)."""
    global _structs
    if _structs is None:
        from pallet._linux import ffi

        class Header(ffi.Structure):
            _fields_ = [("version", ffi.c_uint32), ("pid", ffi.c_int)]

        class Data(ffi.Structure):
            _fields_ = [("effective", ffi.c_uint32), ("permitted", ffi.c_uint32),
                        ("inheritable", ffi.c_uint32)]

        _structs = Header, Data
    return _structs


def last_cap() -> int:
    """The highest capability number the running kernel knows."""
    try:
        with open("/proc/sys/kernel/cap_last_cap") as f:
            return int(f.read())
    except OSError:
        return len(CAP_NAMES) - 1


def capget(pid: int = 0) -> tuple[int, int, int]:
    """(effective, permitted, inheritable) of ``pid`` (0: this thread) as 64-bit masks."""
    from pallet._linux import ffi
    from pallet._linux.libc import raw_syscall

    header, data_type = _types()
    hdr = header(_VERSION_3, pid)
    data = (data_type * 2)()
    raw_syscall("capget", ffi.byref(hdr), data, shown=(pid,))
    d: Any = data
    return (
        d[0].effective | d[1].effective << 32,
        d[0].permitted | d[1].permitted << 32,
        d[0].inheritable | d[1].inheritable << 32,
    )


def capset(effective: int, permitted: int, inheritable: int) -> None:
    """Set this thread's effective, permitted and inheritable sets (64-bit masks)."""
    from pallet._linux import ffi
    from pallet._linux.libc import raw_syscall

    header, data_type = _types()
    hdr = header(_VERSION_3, 0)
    data = (data_type * 2)()
    d: Any = data
    low = 0xFFFFFFFF
    d[0].effective, d[1].effective = effective & low, effective >> 32
    d[0].permitted, d[1].permitted = permitted & low, permitted >> 32
    d[0].inheritable, d[1].inheritable = inheritable & low, inheritable >> 32
    raw_syscall("capset", ffi.byref(hdr), data, shown=(hex(effective), hex(permitted), hex(inheritable)))
