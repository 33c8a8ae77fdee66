"""Sizes of a container as docker reports them (``ps -s``, ``inspect -s``, ``system df``).

- SizeRw: the bytes of the files the container wrote (its snapshot's upper directory), counted as
  docker's overlay2 driver counts them: the apparent size of every non-directory entry, a file with
  several hard links once.
- SizeRootFs: SizeRw plus the unpacked size of the image's layers ("virtual" in ``ps -s``).
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


def image_size(root: str, image_id: str) -> int:
    """Unpacked bytes of the image's layers (as recorded when they were unpacked); 0 if unknown."""
    from pallet.engine.images import image_store, snapshotter
    from pallet.image.store import chain_ids

    try:
        image = image_store(root).get(image_id)
        snap = snapshotter(root)
        return sum(int(snap.stat(key).labels.get("layer.size", "0")) for key in chain_ids(image.diff_ids))
    except Exception:  # an image removed since, or layers never unpacked: docker shows 0 too
        return 0


def container_sizes(root: str, record: dict[str, Any]) -> tuple[int, int]:
    """(SizeRw, SizeRootFs) of the container ``record``."""
    from pallet.engine.images import snapshotter

    try:
        upper = snapshotter(root).upper_dir(record["Id"])
    except Exception:
        return 0, 0
    from pallet.fstree import usage

    rw = usage(upper).apparent
    return rw, rw + image_size(root, str(record.get("Image") or ""))
