"""seccomp: a thin binding (pallet._linux.ffi) to libseccomp.so.2 (filter building) and the raw kernel calls.

Two halves with different rules:

- ``Filter`` wraps a libseccomp context.  It is used in the runtime's parent process only, to build
  a filter and export it as classic BPF.  libseccomp is loaded on first use, so that a container
  without ``linux.seccomp`` never pays for it.
- ``load_bpf``, ``notif_recv``, ``notif_respond`` talk to the kernel directly (seccomp(2), ioctl(2))
  and never touch libseccomp: ``load_bpf`` runs in the container's init, last before execve.
"""

from __future__ import annotations

import fcntl
import os
import struct

from pallet._linux import ffi
from pallet._linux.libc import SyscallError, raw_syscall

# Actions (linux/seccomp.h SECCOMP_RET_*, as libseccomp spells them).
ACT_KILL_PROCESS = 0x80000000
ACT_KILL_THREAD = 0x00000000
ACT_TRAP = 0x00030000
ACT_ERRNO = 0x00050000
ACT_NOTIFY = 0x7FC00000
ACT_TRACE = 0x7FF00000
ACT_LOG = 0x7FFC0000
ACT_ALLOW = 0x7FFF0000

# Comparison operators (enum scmp_compare).
CMP_NE = 1
CMP_LT = 2
CMP_LE = 3
CMP_EQ = 4
CMP_GE = 5
CMP_GT = 6
CMP_MASKED_EQ = 7

# Filter attributes (enum scmp_filter_attr).
ATTR_ACT_DEFAULT = 1
ATTR_ACT_BADARCH = 2
ATTR_CTL_NNP = 3
ATTR_CTL_TSYNC = 4
ATTR_API_TSKIP = 5
ATTR_CTL_LOG = 6
ATTR_CTL_SSB = 7
ATTR_CTL_OPTIMIZE = 8

# seccomp(2)
SECCOMP_SET_MODE_FILTER = 1
SECCOMP_GET_ACTION_AVAIL = 2
FILTER_FLAG_TSYNC = 1
FILTER_FLAG_LOG = 2
FILTER_FLAG_SPEC_ALLOW = 4
FILTER_FLAG_NEW_LISTENER = 8
FILTER_FLAG_TSYNC_ESRCH = 16
FILTER_FLAG_WAIT_KILLABLE_RECV = 32

NR_SCMP_ERROR = -1

# ioctls of a notification listener fd: _IOWR('!', nr, size)
_NOTIF_SIZE = 80  # struct seccomp_notif: id u64, pid u32, flags u32, seccomp_data (nr, arch, ip, args[6])
_RESP_SIZE = 24  # struct seccomp_notif_resp: id u64, val s64, error s32, flags u32
IOCTL_NOTIF_RECV = (3 << 30) | (_NOTIF_SIZE << 16) | (ord("!") << 8) | 0
IOCTL_NOTIF_SEND = (3 << 30) | (_RESP_SIZE << 16) | (ord("!") << 8) | 1
NOTIF_FLAG_CONTINUE = 1


class ArgCmp(ffi.Structure):
    """struct scmp_arg_cmp."""

    _fields_ = [
        ("arg", ffi.c_uint),
        ("op", ffi.c_int),
        ("datum_a", ffi.c_uint64),
        ("datum_b", ffi.c_uint64),
    ]


class _Version(ffi.Structure):
    _fields_ = [("major", ffi.c_uint), ("minor", ffi.c_uint), ("micro", ffi.c_uint)]


_lib: ffi.Library | None = None


def library() -> ffi.Library:
    """libseccomp.so.2, loaded and typed on first use."""
    global _lib
    if _lib is not None:
        return _lib
    try:
        lib = ffi.load("libseccomp.so.2")
    except OSError as e:
        raise OSError(2, f"libseccomp.so.2 cannot be loaded ({e}); install the libseccomp2 package") from None
    vp = ffi.c_void_p
    lib.seccomp_init.argtypes = [ffi.c_uint32]
    lib.seccomp_init.restype = vp
    lib.seccomp_release.argtypes = [vp]
    lib.seccomp_release.restype = None
    lib.seccomp_arch_add.argtypes = [vp, ffi.c_uint32]
    lib.seccomp_arch_native.argtypes = []
    lib.seccomp_arch_native.restype = ffi.c_uint32
    lib.seccomp_arch_resolve_name.argtypes = [ffi.c_char_p]
    lib.seccomp_arch_resolve_name.restype = ffi.c_uint32
    lib.seccomp_syscall_resolve_name.argtypes = [ffi.c_char_p]
    lib.seccomp_syscall_resolve_name.restype = ffi.c_int
    lib.seccomp_syscall_resolve_name_arch.argtypes = [ffi.c_uint32, ffi.c_char_p]
    lib.seccomp_syscall_resolve_name_arch.restype = ffi.c_int
    lib.seccomp_rule_add_array.argtypes = [vp, ffi.c_uint32, ffi.c_int, ffi.c_uint, ffi.POINTER(ArgCmp)]
    lib.seccomp_attr_set.argtypes = [vp, ffi.c_int, ffi.c_uint32]
    lib.seccomp_export_bpf.argtypes = [vp, ffi.c_int]
    lib.seccomp_version.argtypes = []
    lib.seccomp_version.restype = ffi.POINTER(_Version)
    _lib = lib
    return lib


def version() -> tuple[int, int, int]:
    """The version of the loaded libseccomp."""
    v = library().seccomp_version().contents
    return (v.major, v.minor, v.micro)


def arch_native() -> int:
    """libseccomp's token of the native architecture."""
    return int(library().seccomp_arch_native())


def arch_resolve(name: str) -> int:
    """The token of architecture ``name`` (libseccomp spelling: x86_64, aarch64, ...), 0 if unknown."""
    return int(library().seccomp_arch_resolve_name(name.encode()))


def syscall_resolve(name: str, arch: int | None = None) -> int:
    """The number of syscall ``name`` (native arch, or ``arch``), NR_SCMP_ERROR if unknown."""
    lib = library()
    if arch is None:
        return int(lib.seccomp_syscall_resolve_name(name.encode()))
    return int(lib.seccomp_syscall_resolve_name_arch(arch, name.encode()))


class Filter:
    """A libseccomp filter context; ``release()`` it (or use it as a context manager)."""

    def __init__(self, default_action: int) -> None:
        self._lib = library()
        ctx = self._lib.seccomp_init(default_action)
        if not ctx:
            raise OSError(22, f"seccomp_init({default_action:#x}) failed: invalid default action")
        self._ctx: int | None = ctx

    def __enter__(self) -> Filter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()

    def _check(self, ret: int, call: str, args: tuple[object, ...]) -> int:
        if ret < 0:
            raise SyscallError(-ret, call, args)
        return ret

    def add_arch(self, token: int) -> bool:
        """Add an architecture; False if the filter already has it."""
        ret = int(self._lib.seccomp_arch_add(self._ctx, token))
        if ret == -17:  # EEXIST
            return False
        self._check(ret, "seccomp_arch_add", (hex(token),))
        return True

    def set_attr(self, attr: int, value: int) -> None:
        self._check(int(self._lib.seccomp_attr_set(self._ctx, attr, value)), "seccomp_attr_set", (attr, value))

    def add_rule(self, action: int, syscall: int, conds: list[tuple[int, int, int, int]]) -> None:
        """Add a rule; ``conds`` are (arg index, operator, datum_a, datum_b), all must match."""
        arr = (ArgCmp * max(len(conds), 1))(*(ArgCmp(*c) for c in conds))
        ret = int(self._lib.seccomp_rule_add_array(self._ctx, action, syscall, len(conds), arr))
        self._check(ret, "seccomp_rule_add", (hex(action), syscall, conds))

    def export_bpf(self) -> bytes:
        """The filter as classic BPF (an array of 8-byte struct sock_filter)."""
        fd = os.memfd_create("pallet-seccomp", os.MFD_CLOEXEC)
        try:
            self._check(int(self._lib.seccomp_export_bpf(self._ctx, fd)), "seccomp_export_bpf", (fd,))
            size = os.lseek(fd, 0, os.SEEK_END)
            return os.pread(fd, size, 0)
        finally:
            os.close(fd)

    def release(self) -> None:
        if self._ctx is not None:
            self._lib.seccomp_release(self._ctx)
            self._ctx = None


class _SockFprog(ffi.Structure):
    _fields_ = [("len", ffi.c_ushort), ("filter", ffi.c_void_p)]


def load_bpf(program: bytes, flags: int = 0) -> int:
    """seccomp(SECCOMP_SET_MODE_FILTER, flags, prog): install ``program`` on this thread.

    Returns the listener fd when ``flags`` holds FILTER_FLAG_NEW_LISTENER, else 0.  Needs
    no_new_privs or CAP_SYS_ADMIN.  Pure syscalls: safe in a forked child.
    """
    if not program or len(program) % 8:
        raise ValueError(f"a BPF program is a non-empty multiple of 8 bytes, got {len(program)}")
    buf = ffi.create_string_buffer(program, len(program))
    prog = _SockFprog(len(program) // 8, ffi.addressof(buf))
    return raw_syscall(
        "seccomp", SECCOMP_SET_MODE_FILTER, ffi.c_uint(flags), ffi.byref(prog),
        shown=("SECCOMP_SET_MODE_FILTER", hex(flags), f"<{len(program) // 8} instructions>"),
    )


def action_available(action: int) -> bool:
    """Whether the running kernel knows filter return ``action`` (SECCOMP_GET_ACTION_AVAIL)."""
    value = ffi.c_uint32(action & 0xFFFF0000)
    try:
        raw_syscall("seccomp", SECCOMP_GET_ACTION_AVAIL, 0, ffi.byref(value), shown=("GET_ACTION_AVAIL", hex(action)))
    except OSError:
        return False
    return True


class Notification:
    """One notification read from a listener fd (struct seccomp_notif)."""

    __slots__ = ("arch", "args", "id", "instruction_pointer", "pid", "syscall")

    def __init__(self, raw: bytes) -> None:
        (self.id, self.pid, _flags, self.syscall, self.arch, self.instruction_pointer) = struct.unpack_from(
            "=QIIiIQ", raw, 0
        )
        self.args = struct.unpack_from("=6Q", raw, 32)


def notif_recv(listener_fd: int) -> Notification:
    """Block until a notification arrives on ``listener_fd`` and return it."""
    buf = bytearray(_NOTIF_SIZE)
    fcntl.ioctl(listener_fd, IOCTL_NOTIF_RECV, buf, True)
    return Notification(bytes(buf))


def notif_respond(listener_fd: int, notif_id: int, *, error: int = 0, value: int = 0, cont: bool = False) -> None:
    """Answer notification ``notif_id``: fail the call with ``error`` (an errno), return ``value``,
    or let the kernel run the call (``cont``)."""
    buf = bytearray(struct.pack("=QqiI", notif_id, value, -error if error else 0, NOTIF_FLAG_CONTINUE if cont else 0))
    fcntl.ioctl(listener_fd, IOCTL_NOTIF_SEND, buf, True)
