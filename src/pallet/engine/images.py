"""What the engine needs from the image layer: find an image, give a container its root filesystem.

One place that knows where the image store and the snapshotter live under the state root
(``<root>`` for images.json and content/, ``<root>/snapshots/<driver>`` for the snapshots) and how a
container's snapshot is keyed (its id), so that the engine never reaches into pallet.image elsewhere.
"""

from __future__ import annotations

import os

from pallet.errors import NotFoundError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pallet.image.snapshot.base import Snapshotter
    from pallet.image.store import Image, ImageStore


class ImageInfo:
    """An image as the engine sees it: id, the name the user gave, its config, its top snapshot."""

    __slots__ = ("config", "id", "name", "repo_tags", "top")

    def __init__(self, id: str, name: str, config: dict, top: str | None, repo_tags: list[str]) -> None:  # type: ignore[type-arg]
        self.id = id
        self.name = name
        self.config = config
        self.top = top
        self.repo_tags = repo_tags


def image_store(root: str) -> ImageStore:
    from pallet.image.store import ImageStore

    return ImageStore(root)


_SNAPSHOTTERS: dict[str, Snapshotter] = {}


def snapshotter(root: str) -> Snapshotter:
    """The snapshotter of the state root ``root`` (opened once per process: opening it probes the
    host's file systems and makes its directories)."""
    snap = _SNAPSHOTTERS.get(root)
    if snap is None:
        from pallet.image.snapshot import open_snapshotter

        snap = _SNAPSHOTTERS[root] = open_snapshotter(os.path.join(root, "snapshots"))
    return snap


def normalise(name: str) -> str:
    """docker's normalisation of an image name (busybox -> docker.io/library/busybox:latest)."""
    from pallet.image.reference import parse

    return str(parse(name, source="image name"))


def find_image(root: str, name: str) -> ImageInfo:
    """The image ``name`` (a reference, an id or an id prefix); NotFoundError as docker words it."""
    store = image_store(root)
    image: Image | None = None
    try:
        image = store.get(name)
    except NotFoundError:
        pass
    if image is None:
        try:
            image = store.get(normalise(name))
        except (NotFoundError, ValueError):
            raise NotFoundError(f"No such image: {name}") from None
        except Exception as exc:  # an invalid reference: say what was wrong with it
            from pallet.errors import PalletError

            if isinstance(exc, PalletError):
                raise
            raise NotFoundError(f"No such image: {name}") from None
    doc = store.config(image)
    config = doc.get("config") or {}
    return ImageInfo(image.id, name, config, image.chain_id, list(image.repo_tags))


def prepare_rootfs(root: str, cid: str, image: ImageInfo, *, durable: bool = True) -> str:
    """Make the container's writable snapshot on top of the image (unpacked first if needed).
    Not ``durable`` (a --rm container): the snapshot metadata is written without an fsync."""
    snap = snapshotter(root)
    if image.top and snap.exists(image.top):
        snap.prepare(cid, image.top, durable=durable)  # unpacked already (the usual case): no layer code
    else:
        from pallet.image.unpack import prepare_rootfs as prepare

        store = image_store(root)
        prepare(store, snap, store.get(image.id), cid)
    return snap.upper_dir(cid)


def graph_driver(root: str, cid: str, merged: str) -> dict:  # type: ignore[type-arg]
    """docker's GraphDriver block of inspect for the container's snapshot."""
    snap = snapshotter(root)
    data: dict[str, str] = {"MergedDir": merged, "UpperDir": snap.upper_dir(cid)}
    lowers = snap.lower_dirs(cid)
    if lowers:
        data["LowerDir"] = ":".join(lowers)
    work = os.path.join(os.path.dirname(data["UpperDir"]), "work")
    if os.path.isdir(work):
        data["WorkDir"] = work
    return {"Name": "overlay2" if snap.driver == "overlay" else snap.driver, "Data": data}


def mount_rootfs(root: str, cid: str, target: str, *, volatile: bool = False) -> None:
    """Mount the container's snapshot at ``target`` (the bundle's rootfs).

    ``volatile`` (for --rm containers, as podman does): the overlay is mounted with ``volatile``, so
    that its unmount does not sync the whole upper file system (measured here: 1-100 ms per unmount
    on a busy disk, 0.1-0.3 ms volatile).  The upper dir is not crash-safe then, which does not
    matter for a container removed when it exits.
    """
    from pallet.image.snapshot.mounting import mount_all

    os.makedirs(target, exist_ok=True)
    mounts = snapshotter(root).mounts(cid)
    for m in mounts:
        if m.type != "overlay":
            continue
        work = next((o[len("workdir="):] for o in m.options if o.startswith("workdir=")), "")
        if work:
            # A volatile mount leaves <work>/work/incompat/volatile, and overlayfs refuses to mount
            # the dirs again while it is there: this container's own snapshot, unmounted, under its lock.
            _remove_tree(os.path.join(work, "work", "incompat"))
        if volatile and work:
            m.options.append("volatile")
    mount_all(mounts, target)


def _remove_tree(path: str) -> None:
    from pallet.fstree import remove_tree

    remove_tree(path, ignore_errors=True)


def unmount_rootfs(target: str) -> None:
    from pallet.image.snapshot.mounting import unmount_all

    if os.path.isdir(target):
        unmount_all(target)


def remove_rootfs(root: str, cid: str, *, durable: bool = True) -> None:
    snap = snapshotter(root)
    if snap.exists(cid):
        snap.remove(cid, durable=durable)
