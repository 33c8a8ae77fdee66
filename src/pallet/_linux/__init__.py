"""Thin, typed wrappers over Linux system calls.

This package is the only one in pallet that imports ctypes.  Each wrapper raises
:class:`pallet._linux.libc.SyscallError` (an OSError) naming the call and its arguments.
"""
