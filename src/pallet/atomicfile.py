"""Files replaced whole: readers see the old content or the new, never a part of it.

Every file pallet rewrites in place (state and records, image and snapshot metadata, credentials,
pid files, caches, the bundle's config.json) is written to a temporary file beside it and renamed
over it.  The temporary name carries the writer's pid, so that two processes writing the same file
never share one; it is made with O_EXCL (a link planted under that name is not followed or
truncated) and removed if anything fails.  ``durable`` adds an fsync before the rename, for data
that must survive a crash once the call has returned.
"""

from __future__ import annotations

import os


def write_atomic(path: str, data: bytes | str, *, mode: int = 0o644, durable: bool = False) -> None:
    """Replace ``path`` by ``data`` (str is written as UTF-8), with permissions ``mode`` exactly."""
    raw = data.encode() if isinstance(data, str) else data
    tmp = f"{path}.tmp{os.getpid()}"
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC
    try:
        fd = os.open(tmp, flags, mode)
    except FileExistsError:  # left by a process of the same pid that died meanwhile
        os.unlink(tmp)
        fd = os.open(tmp, flags, mode)
    try:
        try:
            os.fchmod(fd, mode)  # whatever the umask
            view = memoryview(raw)
            while view:
                view = view[os.write(fd, view):]
            if durable:
                os.fsync(fd)
        finally:
            os.close(fd)
        os.rename(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def write_json_atomic(path: str, doc: object, *, durable: bool = True) -> None:
    """``doc`` as compact JSON, replacing ``path`` whole (mode 0600; fsynced if ``durable``): the
    records of the engine's and the runtime's stores."""
    from pallet import fastjson

    write_atomic(path, fastjson.dumps(doc), mode=0o600, durable=durable)
