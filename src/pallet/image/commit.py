"""New images from containers and tarballs (commit, import) and a container's tree as a tar (export).

``commit``: the container's layer (its snapshot's upper dir over the image's layers) as a new layer on
top of the image's, with the config updated (``-c`` changes, author, comment, history).  ``import``:
a root filesystem tarball (plain or compressed) as a one-layer image.  Both store their layer
uncompressed and unpack it into a committed snapshot at once, so the image is ready to run.
"""

from __future__ import annotations

import os

from pallet.errors import ConfigError
from pallet.image.diff import write_diff
from pallet.image.newimage import apply_changes, make_image, now_rfc3339, plain_layer, store_tar_layer

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import Any, BinaryIO

    from pallet.image.snapshot.base import Snapshotter
    from pallet.image.store import Image, ImageStore


def commit_container(
    images: ImageStore,
    snapshotter: Snapshotter,
    key: str,
    image: Image,
    *,
    refs: Sequence[str] = (),
    message: str = "",
    author: str = "",
    changes: Sequence[str] = (),
    container_config: dict[str, Any] | None = None,
    container_id: str = "",
) -> Image:
    """A new image: ``image`` plus the changes of the snapshot ``key`` (a container's layer)."""
    import tempfile

    from pallet.image.unpack import unpack

    with tempfile.TemporaryFile(dir=images.content.ingest_dir) as tmp:
        write_diff(snapshotter.upper_dir(key), snapshotter.lower_dirs(key), tmp, snapshotter.whiteouts)
        tmp.seek(0)
        digest, size = store_tar_layer(images.content, tmp)
    base = images.config(image)
    created = now_rfc3339()
    cfg = apply_changes(container_config if container_config is not None else base.get("config") or {},
                        list(changes), "--change")
    config: dict[str, Any] = {k: v for k, v in base.items() if k not in ("rootfs", "history", "config")}
    config.update({"created": created, "config": cfg})
    if author:
        config["author"] = author
    if container_id:
        config["container"] = container_id
    entry: dict[str, Any] = {"created": created, "created_by": "pallet commit"}
    if author:
        entry["author"] = author
    if message:
        entry["comment"] = message
    config["history"] = [*base.get("history", []), entry]
    layers = [(x["digest"], x["diff_id"], int(x["size"]), x["media_type"]) for x in image.layers]
    new = make_image(images, [*layers, plain_layer(digest, size)], config, list(refs))
    unpack(images, snapshotter, new)
    return new


def import_tarball(
    images: ImageStore,
    snapshotter: Snapshotter | None,
    source: BinaryIO,
    *,
    refs: Sequence[str] = (),
    changes: Sequence[str] = (),
    message: str = "",
    source_name: str = "-",
    platform: str = "",
) -> Image:
    """A one-layer image from the root filesystem tarball read from ``source`` (any compression)."""
    from pallet.image.layers import LayerError, decompressed
    from pallet.image.unpack import unpack

    stream, _kind = decompressed(source)
    try:
        digest, size = store_tar_layer(images.content, stream)
    except (OSError, EOFError, ValueError) as e:
        raise LayerError(f"import {source_name}: cannot read the tarball: {e}") from None
    finally:
        stream.close()
    created = now_rfc3339()
    config: dict[str, Any] = {"created": created, "config": apply_changes({}, list(changes), "--change")}
    if platform:
        os_name, _, arch = platform.partition("/")
        if os_name != "linux" or not arch:
            raise ConfigError(f"--platform {platform!r}: only linux/<arch> is supported")
        config["architecture"] = arch.split("/")[0]
    entry: dict[str, Any] = {"created": created, "created_by": f"pallet import {source_name}"}
    if message:
        entry["comment"] = message
    config["history"] = [entry]
    new = make_image(images, [plain_layer(digest, size)], config, list(refs))
    if snapshotter is not None:
        try:
            unpack(images, snapshotter, new)
        except BaseException:
            images.remove(new.id)
            raise
    return new


def export_tree(path: str, out: BinaryIO) -> tuple[str, int]:
    """Write the tree at ``path`` (a mounted root filesystem) as a tar; (digest, size)."""
    return write_diff(path, [], out, "direct")


def export_snapshot(snapshotter: Snapshotter, key: str, out: BinaryIO) -> tuple[str, int]:
    """Write the whole tree of the snapshot ``key`` (image layers and its own changes) as a tar.

    The snapshot's mounts are mounted on a private directory for the time of the walk.
    """
    import tempfile

    from pallet.image.snapshot.mounting import mount_all, unmount_all

    target = tempfile.mkdtemp(prefix="export-", dir=snapshotter.root)
    try:
        mount_all(snapshotter.mounts(key), target)
        try:
            return write_diff(target, [], out, "direct")
        finally:
            unmount_all(target)
    finally:
        os.rmdir(target)
