"""Removing images (rmi, image prune) and collecting what no image needs any more.

docker's rules: removing by a tag untags; the image itself goes when its last tag goes (or when it is
named by id and has one tag or ``force``).  An image a container uses is refused unless ``force``
(its layers then stay while the container sits on them).  After the records change, ``collect``
deletes the blobs and the committed layer snapshots that no remaining image uses.
"""

from __future__ import annotations

from pallet.errors import ConflictError, NotFoundError
from pallet.image.store import chain_ids

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Collection

    from pallet.image.snapshot.base import Snapshotter
    from pallet.image.store import Image, ImageStore


def remove_image(
    images: ImageStore,
    snapshotter: Snapshotter | None,
    name: str,
    *,
    force: bool = False,
    in_use: Collection[str] = (),
    resolved: str | None = None,
) -> list[str]:
    """Remove the image ``name``; returns docker's lines (``Untagged: ...``, ``Deleted: sha256:...``).

    ``resolved`` is the stored reference ``name`` normalises to (if it is a reference); ``in_use``
    the ids of images some container uses.
    """
    key = resolved or name
    image = images.get(key)
    out: list[str] = []
    by_ref = key in image.repo_tags or key in image.repo_digests
    if by_ref and len(image.repo_tags) > 1 and key in image.repo_tags:
        images.untag(key)
        return [f"Untagged: {_familiar(key)}"]
    if not by_ref and len(image.repo_tags) > 1 and not force:
        raise ConflictError(
            f"conflict: unable to delete {image.short_id} (must be forced) - image is referenced in multiple "
            f"repositories")
    if image.id in in_use and not force:
        raise ConflictError(
            f"conflict: unable to remove repository reference {name!r} (must force) - container is using "
            f"its referenced image {image.short_id}")
    for ref in [*image.repo_tags, *image.repo_digests]:
        out.append(f"Untagged: {_familiar(ref)}")
    images.remove(image.id)
    out.append(f"Deleted: {image.id}")
    collect(images, snapshotter)
    return out


def prune(
    images: ImageStore,
    snapshotter: Snapshotter | None,
    *,
    all_unused: bool = False,
    in_use: Collection[str] = (),
    filters: dict[str, list[str]] | None = None,
) -> tuple[list[str], int]:
    """Remove dangling images (every unused one with ``all_unused``); (docker's lines, bytes reclaimed)."""
    lines: list[str] = []
    before = _blob_bytes(images)
    for image in images.list():
        if image.id in in_use:
            continue
        if image.repo_tags and not all_unused:
            continue
        if not _matches(images, image, filters or {}):
            continue
        lines += [f"untagged: {_familiar(r)}" for r in [*image.repo_tags, *image.repo_digests]]
        try:
            images.remove(image.id)
        except NotFoundError:
            continue
        lines.append(f"deleted: {image.id}")
    collect(images, snapshotter)
    return lines, max(0, before - _blob_bytes(images))


def collect(images: ImageStore, snapshotter: Snapshotter | None) -> tuple[int, int]:
    """Delete blobs and layer snapshots no image needs; (blobs deleted, snapshots deleted)."""
    needed = images.referenced_blobs()
    blobs = 0
    for digest in images.content.list():
        if digest not in needed and images.content.delete(digest):
            blobs += 1
    snaps = 0
    if snapshotter is None:
        return blobs, snaps
    keep: set[str] = set()
    for image in images.list():
        keep.update(chain_ids(image.diff_ids))
    changed = True
    while changed:
        changed = False
        infos = snapshotter.list()
        parents = {i.parent for i in infos if i.parent}
        for info in infos:
            if info.kind == "committed" and info.key not in keep and info.key not in parents:
                try:
                    snapshotter.remove(info.key)
                except (ConflictError, NotFoundError):
                    continue
                snaps += 1
                changed = True
    return blobs, snaps


def _blob_bytes(images: ImageStore) -> int:
    total = 0
    for d in images.content.list():
        try:
            total += images.content.size(d)
        except NotFoundError:
            continue
    return total


def _matches(images: ImageStore, image: Image, filters: dict[str, list[str]]) -> bool:
    for key, values in filters.items():
        if key == "label":
            labels = (images.config(image).get("config") or {}).get("Labels") or {}
            for v in values:
                k, eq, want = v.partition("=")
                if k not in labels or (eq and labels[k] != want):
                    return False
        elif key == "dangling":
            if any((v.lower() in ("true", "1")) != (not image.repo_tags) for v in values):
                return False
    return True


def _familiar(ref: str) -> str:
    from pallet.image.reference import parse

    try:
        return parse(ref).familiar()
    except Exception:
        return ref
