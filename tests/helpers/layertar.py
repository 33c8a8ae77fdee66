"""Building layer tars for tests, entry by entry (including the malicious ones)."""

from __future__ import annotations

import io
import tarfile


class LayerTar:
    """``LayerTar().file("a", b"x").symlink("l", "a").bytes()``: a tar made of the given entries."""

    def __init__(self, fmt: int = tarfile.PAX_FORMAT) -> None:
        self.buf = io.BytesIO()
        self.tf = tarfile.open(fileobj=self.buf, mode="w", format=fmt)

    def _info(self, name: str, type: bytes, mode: int, uid: int, gid: int, mtime: int) -> tarfile.TarInfo:
        ti = tarfile.TarInfo(name)
        ti.type = type
        ti.mode = mode
        ti.uid, ti.gid = uid, gid
        ti.mtime = mtime
        return ti

    def file(self, name: str, data: bytes = b"", mode: int = 0o644, uid: int = 0, gid: int = 0,
             mtime: int = 1_600_000_000, xattrs: dict[str, str] | None = None) -> LayerTar:
        ti = self._info(name, tarfile.REGTYPE, mode, uid, gid, mtime)
        ti.size = len(data)
        if xattrs:
            ti.pax_headers = {f"SCHILY.xattr.{k}": v for k, v in xattrs.items()}
        self.tf.addfile(ti, io.BytesIO(data))
        return self

    def dir(self, name: str, mode: int = 0o755, uid: int = 0, gid: int = 0, mtime: int = 1_600_000_000) -> LayerTar:
        self.tf.addfile(self._info(name, tarfile.DIRTYPE, mode, uid, gid, mtime))
        return self

    def symlink(self, name: str, target: str) -> LayerTar:
        ti = self._info(name, tarfile.SYMTYPE, 0o777, 0, 0, 1_600_000_000)
        ti.linkname = target
        self.tf.addfile(ti)
        return self

    def hardlink(self, name: str, target: str) -> LayerTar:
        ti = self._info(name, tarfile.LNKTYPE, 0o644, 0, 0, 1_600_000_000)
        ti.linkname = target
        self.tf.addfile(ti)
        return self

    def node(self, name: str, type: bytes, major: int = 0, minor: int = 0, mode: int = 0o644) -> LayerTar:
        ti = self._info(name, type, mode, 0, 0, 1_600_000_000)
        ti.devmajor, ti.devminor = major, minor
        self.tf.addfile(ti)
        return self

    def bytes(self) -> bytes:
        self.tf.close()
        return self.buf.getvalue()
