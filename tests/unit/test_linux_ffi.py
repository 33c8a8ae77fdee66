"""pallet._linux.ffi: the light C types and library loader behave as the ctypes package's do."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from pallet._linux import ffi

SRC = Path(__file__).resolve().parents[2] / "src"


def test_simple_types_have_the_c_sizes() -> None:
    assert ffi.sizeof(ffi.c_int) == 4
    assert ffi.sizeof(ffi.c_uint32) == 4
    assert ffi.sizeof(ffi.c_uint64) == 8
    assert ffi.sizeof(ffi.c_ushort) == 2
    assert ffi.sizeof(ffi.c_size_t) == ffi.sizeof(ffi.c_void_p) == 8
    assert ffi.sizeof(ffi.c_long) == ffi.sizeof(ffi.c_ulong) == 8
    assert ffi.c_uint64(2**64 - 1).value == 2**64 - 1
    assert ffi.c_int(-5).value == -5


def test_structures_lay_out_fields_as_c_does() -> None:
    class Pair(ffi.Structure):
        _fields_ = [("a", ffi.c_uint32), ("b", ffi.c_uint64)]

    p = Pair(1, 2)
    assert ffi.sizeof(Pair) == 16  # b aligned to 8
    assert (p.a, p.b) == (1, 2)
    assert bytes(memoryview(p).cast("B"))[:4] == (1).to_bytes(4, sys.byteorder)
    ptr = ffi.POINTER(Pair)(p)
    assert ptr.contents.b == 2


def test_string_buffers() -> None:
    buf = ffi.create_string_buffer(b"abc")
    assert ffi.sizeof(buf) == 4 and buf.value == b"abc" and buf.raw == b"abc\0"
    assert ffi.create_string_buffer(8).raw == b"\0" * 8
    assert ffi.sizeof(ffi.create_string_buffer(b"ab", 10)) == 10


def test_functions_of_the_c_library_and_errno() -> None:
    libc = ffi.load(None)
    assert libc.getpid() == os.getpid()
    assert libc.getpid is libc.getpid  # made once, then kept
    assert libc.umount2(b"/nonexistent/pallet-ffi-test", 0) == -1
    assert ffi.get_errno() in (2, 1, 22)  # ENOENT as root; EPERM/EINVAL elsewhere
    libc.syscall.restype = ffi.c_long
    assert libc.syscall(ffi.c_long(39)) == os.getpid()  # getpid on x86_64
    buf = ffi.create_string_buffer(64)
    assert libc.gethostname(buf, ffi.c_size_t(64)) == 0
    assert buf.value.decode() == os.uname().nodename


def test_a_missing_library_is_an_oserror() -> None:
    try:
        ffi.load("libpallet-does-not-exist.so.9")
    except OSError as exc:
        assert "libpallet-does-not-exist" in str(exc)
    else:
        raise AssertionError("loaded a library that does not exist")


def test_the_wrappers_do_not_import_the_ctypes_package() -> None:
    code = (
        "import sys\n"
        "from pallet._linux import bpf, caps, host, libc, mount, netdev, ns, openat2, prctl, seccomp, system\n"
        "caps.capget(0); host.prlimit\n"
        "assert 'ctypes' not in sys.modules, sorted(m for m in sys.modules if 'ctypes' in m)\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, env={**os.environ, "PYTHONPATH": str(SRC)})
