"""The C types and the library loader of pallet's system-call wrappers, built on ``_ctypes`` alone.

Every process of a container start calls into the C library (unshare, mount, prctl, capset, ...),
and ``import ctypes`` costs about 2.5 ms of each start: its package defines some thirty C types,
function-pointer factories and helpers at import (plus the struct module), of which pallet uses a
dozen.  This module defines just those, the same way the ctypes package does (a simple type is a
subclass of ``_ctypes._SimpleCData`` with a one-letter ``_type_``; a foreign function is a
``_ctypes.CFuncPtr`` subclass with calling-convention flags, made from a (symbol name, library)
pair), in about 0.7 ms with the C extension's own load.

To the type checker the names are the ctypes package's own (same behaviour, and typeshed's
stubs describe them); at run time they are the light ones below.  The wrappers import types from
here, never from ctypes; a value of one cannot be passed where the other's type is expected, so the
two are not mixed.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from ctypes import (
        CDLL,
        POINTER,
        Array,
        Structure,
        addressof,
        byref,
        c_char,
        c_char_p,
        c_int,
        c_long,
        c_uint,
        c_uint32,
        c_uint64,
        c_ulong,
        c_ushort,
        c_void_p,
        create_string_buffer,
        get_errno,
        sizeof,
    )

    c_size_t = c_ulong
    Library = CDLL

    def load(name: str | None) -> Library:
        """The shared library ``name`` (None: the program itself and the C library)."""
        ...
else:
    import _ctypes
    from _ctypes import POINTER, Array, Structure, _SimpleCData, addressof, byref, get_errno, sizeof

    class c_char(_SimpleCData):
        _type_ = "c"

    class c_char_p(_SimpleCData):
        _type_ = "z"

    class c_void_p(_SimpleCData):
        _type_ = "P"

    class c_int(_SimpleCData):
        _type_ = "i"

    class c_uint(_SimpleCData):
        _type_ = "I"

    class c_long(_SimpleCData):
        _type_ = "l"

    class c_ulong(_SimpleCData):
        _type_ = "L"

    class c_ushort(_SimpleCData):
        _type_ = "H"

    class c_uint64(_SimpleCData):
        _type_ = "Q"

    c_uint32 = c_uint  # (4 bytes on every Linux ABI pallet runs on)
    c_size_t = c_ulong  # (LP64: x86_64, aarch64)

    def create_string_buffer(init: bytes | int, size: int | None = None) -> Array[c_char]:
        """A mutable char array: ``init`` bytes (NUL-terminated, or ``size`` long) or that many NULs."""
        if isinstance(init, int):
            return (c_char * init)()
        buf = (c_char * (len(init) + 1 if size is None else size))()
        buf.value = init
        return buf

    class _Function(_ctypes.CFuncPtr):
        # cdecl, errno saved for get_errno(), int result until a restype is set
        _flags_ = _ctypes.FUNCFLAG_CDECL | _ctypes.FUNCFLAG_USE_ERRNO
        _restype_ = c_int

    class Library:
        """A loaded shared library: its functions are attributes, made (and kept) on first use."""

        def __init__(self, name: str | None) -> None:
            self._name = name
            self._handle = _ctypes.dlopen(name, _ctypes.RTLD_LOCAL)

        def __getattr__(self, symbol: str) -> _Function:
            if symbol.startswith("__"):
                raise AttributeError(symbol)
            func = _Function((symbol, self))  # (the CFuncPtr finds the symbol through ._handle)
            func.__name__ = symbol
            setattr(self, symbol, func)
            return func

        def __repr__(self) -> str:
            return f"<library {self._name or '(the C library)'}>"

    def load(name: str | None) -> Library:
        """The shared library ``name`` (None: the program itself and the C library)."""
        return Library(name)

__all__ = [
    "POINTER", "Array", "Library", "Structure", "addressof", "byref", "c_char", "c_char_p", "c_int", "c_long", "c_size_t",
    "c_uint", "c_uint32", "c_uint64", "c_ulong", "c_ushort", "c_void_p", "create_string_buffer", "get_errno",
    "load", "sizeof",
]
