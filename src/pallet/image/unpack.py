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
    from collections.abc import Callable
    from typing import BinaryIO

    from pallet.image.snapshot.base import Mount, Snapshotter
    from pallet.image.store import Image, ImageStore


def unpack(images: ImageStore, snapshotter: Snapshotter, image: Image,
           *, size_limit: int = DEFAULT_SIZE_LIMIT) -> str | None:
    """Make sure every layer of ``image`` is a committed snapshot; returns the top chain id."""
    chain = chain_ids(image.diff_ids)
    for i, layer in enumerate(image.layers):
        if snapshotter.exists(chain[i]):
            continue
        with images.content.open_blob(layer["digest"]) as blob:
            unpack_layer(snapshotter, chain, i, blob, layer["digest"], layer["diff_id"], size_limit=size_limit)
    return chain[-1] if chain else None


def unpack_layer(snapshotter: Snapshotter, chain: list[str], i: int, blob: BinaryIO, digest: str, diff_id: str,
                 *, size_limit: int = DEFAULT_SIZE_LIMIT, check: Callable[[], None] | None = None) -> None:
    """Apply layer ``i`` of an image (its blob read from ``blob``) into a new snapshot, committed as
    ``chain[i]`` on top of ``chain[i - 1]``.

    ``check`` runs after the layer is applied and verified, before it is committed: a caller that
    reads the blob from elsewhere while storing it (load) finishes and verifies the blob there.
    On any failure the partial snapshot is removed.
    """
    mark_top_dir(snapshotter.root)  # each layer's directory in a block group of its own
    parent = chain[i - 1] if i else None
    key = f"extract-{os.urandom(6).hex()}-{chain[i]}"
    snapshotter.prepare(key, parent, labels={"layer.digest": digest})
    try:
        result = apply_layer(blob, snapshotter.upper_dir(key), whiteouts=snapshotter.whiteouts,
                             expected_diff_id=diff_id, size_limit=size_limit, name=f"layer {digest}")
        if check is not None:
            check()
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


def prepare_rootfs(images: ImageStore, snapshotter: Snapshotter, image: Image, key: str,
                   *, readonly: bool = False) -> list[Mount]:
    """The mounts of a new container layer ``key`` on top of ``image`` (unpacked first if needed)."""
    top = unpack(images, snapshotter, image)
    if readonly:
        return snapshotter.view(key, top)
    return snapshotter.prepare(key, top)
