"""The vfs snapshotter: every snapshot is a full copy of its parent (for hosts without overlayfs).

Layout under ``<root>/vfs``: ``<id>/fs`` holds the whole tree.  Preparing a snapshot copies its
parent with ``cp -a`` (owners, modes, hard links, xattrs, devices kept); layers are applied to the
copy directly (deletions done, not recorded as whiteouts).  Slow and big, but it works on any
filesystem.
"""

from __future__ import annotations

import os

from pallet.errors import PalletError
from pallet.image.snapshot.base import Mount, Snapshotter

TYPE_CHECKING = False
if TYPE_CHECKING:
    import builtins
    from typing import Any


class VfsSnapshotter(Snapshotter):
    driver = "vfs"
    whiteouts = "direct"

    def _make_dirs(self, record: dict[str, Any], parents: builtins.list[dict[str, Any]], kind: str) -> None:
        base = os.path.join(self.root, record["id"])
        os.mkdir(base, 0o700)
        fs = os.path.join(base, "fs")
        if not parents:
            os.mkdir(fs, 0o755)
            os.chmod(fs, 0o755)
            return
        import subprocess

        src = self.fs_dir(parents[0]["id"])
        proc = subprocess.run(["cp", "-a", "--reflink=auto", "--", src, fs], capture_output=True, text=True)
        if proc.returncode != 0:
            raise PalletError(f"vfs: copying snapshot {src} to {fs} failed: {proc.stderr.strip()}")

    def _mounts(self, record: dict[str, Any], parents: builtins.list[dict[str, Any]], readonly: bool) -> builtins.list[Mount]:
        return [Mount("bind", self.fs_dir(record["id"]), ["rbind", "ro" if readonly else "rw"])]

    def lower_dirs(self, key: str) -> builtins.list[str]:
        # A vfs snapshot holds its whole tree; the parent's copy is what it was made from.
        return super().lower_dirs(key)[:1]
