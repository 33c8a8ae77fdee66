"""The overlay snapshotter (the default, as docker's overlay2).

Layout under ``<root>/overlay``::

    <id>/fs          what the snapshot adds (a layer's files; a container's upper dir)
    <id>/work        overlayfs' work dir (active snapshots)
    <id>/link        the snapshot's short name in l/
    l/<SHORT>        symlink -> ../<id>/fs

Lower dirs are named through the 26-character ``l/`` links, so that a chain of 100+ layers still fits
the one page (4096 bytes) that mount(2) takes for its options.  Every layer is shared by every image
and container above it; a container adds only its own upper and work dir.
"""

from __future__ import annotations

import os

from pallet.image.snapshot.base import Mount, Snapshotter

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

LINK_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
LINK_LEN = 26


def overlay_options(lowers: list[str], upper: str | None = None, work: str | None = None) -> list[str]:
    """The options of an overlay mount: the one place they are built."""
    opts = []
    if os.path.exists("/sys/module/overlay/parameters/index"):
        opts.append("index=off")
    if upper is not None and work is not None:
        opts += [f"workdir={work}", f"upperdir={upper}"]
    opts.append("lowerdir=" + ":".join(lowers))
    return opts


class OverlaySnapshotter(Snapshotter):
    driver = "overlay"
    whiteouts = "overlay"

    def __init__(self, root: str | os.PathLike[str]) -> None:
        super().__init__(root)
        self.links = os.path.join(self.root, "l")
        os.makedirs(self.links, mode=0o700, exist_ok=True)

    def _make_dirs(self, record: dict[str, Any], parents: list[dict[str, Any]], kind: str) -> None:
        base = os.path.join(self.root, record["id"])
        os.makedirs(os.path.join(base, "fs"), mode=0o755)
        os.chmod(os.path.join(base, "fs"), 0o755)
        os.mkdir(os.path.join(base, "work"), 0o700)
        for _ in range(8):
            # os.urandom, not secrets: secrets imports hashlib, hmac and random (~3 ms of every run).
            short = "".join(LINK_ALPHABET[b % len(LINK_ALPHABET)] for b in os.urandom(LINK_LEN))
            try:
                os.symlink(f"../{record['id']}/fs", os.path.join(self.links, short))
                break
            except FileExistsError:
                continue
        with open(os.path.join(base, "link"), "w") as f:
            f.write(short)
        record["link"] = short

    def _link(self, record: dict[str, Any]) -> str:
        return os.path.join(self.links, record["link"])

    def _mounts(self, record: dict[str, Any], parents: list[dict[str, Any]], readonly: bool) -> list[Mount]:
        base = os.path.join(self.root, record["id"])
        if not parents:
            return [Mount("bind", os.path.join(base, "fs"), ["rbind", "ro" if readonly else "rw"])]
        if readonly:
            if len(parents) == 1:
                return [Mount("bind", self.fs_dir(parents[0]["id"]), ["rbind", "ro"])]
            return [Mount("overlay", "overlay", overlay_options([self._link(p) for p in parents]))]
        return [Mount("overlay", "overlay", overlay_options(
            [self._link(p) for p in parents], os.path.join(base, "fs"), os.path.join(base, "work")))]

    def _on_commit(self, record: dict[str, Any]) -> None:
        # A committed layer is only ever a lower dir: its work dir is no longer needed.
        import shutil

        shutil.rmtree(os.path.join(self.root, record["id"], "work"), ignore_errors=True)

    def _remove_dirs(self, record: dict[str, Any]) -> None:
        if record.get("link"):
            try:
                os.unlink(self._link(record))
            except FileNotFoundError:
                pass
        super()._remove_dirs(record)
