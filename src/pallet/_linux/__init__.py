"""Thin, typed wrappers over Linux system calls.

This package is the only one in pallet that makes C calls (its ffi module builds on _ctypes).  Each wrapper raises
:class:`pallet._linux.libc.SyscallError` (an OSError) naming the call and its arguments.
"""
