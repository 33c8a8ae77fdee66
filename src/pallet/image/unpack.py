"""Unpacking an image's layers into committed snapshots, and a container's layer on top.

Each layer becomes the committed snapshot named by its chain id, so that images sharing layers share
them on disk.  A layer is applied into a fresh active snapshot, verified against its diffID, then
committed; on any failure the partial snapshot is removed, so no half-written layer is ever used.
Two processes unpacking the same layer at once: the second to commit sees it exists and drops its own.
"""

from __future__ import annotations

import os

from pallet.errors import ConflictError
from pallet.image.layers import DEFAULT_SIZE_LIMIT, apply_layer
from pallet.image.snapshot.base import mark_top_dir
from pallet.image.store import chain_ids

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pallet.image.snapshot.base import Mount, Snapshotter
    from pallet.image.store import Image, ImageStore


def unpack(images: ImageStore, snapshotter: Snapshotter, image: Image,
           *, size_limit: int = DEFAULT_SIZE_LIMIT) -> str | None:
    """Make sure every layer of ``image`` is a committed snapshot; returns the top chain id."""
    chain = chain_ids(image.diff_ids)
    marked = False
    for i, layer in enumerate(image.layers):
        if snapshotter.exists(chain[i]):
            continue
        if not marked:  # each layer's directory in a block group of its own (see mark_top_dir)
            mark_top_dir(snapshotter.root)
            marked = True
        parent = chain[i - 1] if i else None
        key = f"extract-{os.urandom(6).hex()}-{chain[i]}"
        snapshotter.prepare(key, parent, labels={"layer.digest": layer["digest"]})
        try:
            with images.content.open_blob(layer["digest"]) as blob:
                result = apply_layer(blob, snapshotter.upper_dir(key), whiteouts=snapshotter.whiteouts,
                            expected_diff_id=layer["diff_id"], size_limit=size_limit,
                            name=f"layer {layer['digest']}")
            try:
                snapshotter.commit(chain[i], key, labels={"layer.size": str(result.size)})
            except ConflictError:
                if not snapshotter.exists(chain[i]):
                    raise
                snapshotter.remove(key)
        except BaseException:
            if snapshotter.exists(key):
                snapshotter.remove(key)
            raise
    return chain[-1] if chain else None


def prepare_rootfs(images: ImageStore, snapshotter: Snapshotter, image: Image, key: str,
                   *, readonly: bool = False) -> list[Mount]:
    """The mounts of a new container layer ``key`` on top of ``image`` (unpacked first if needed)."""
    top = unpack(images, snapshotter, image)
    if readonly:
        return snapshotter.view(key, top)
    return snapshotter.prepare(key, top)
