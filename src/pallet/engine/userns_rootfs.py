"""A remapped container's root filesystem: the image layers made usable by the mapped root.

The container's overlay is mounted by the engine (host root) with:

- lower layers seen through the mapping: each layer is an idmapped mount (open_tree clone +
  mount_setattr MOUNT_ATTR_IDMAP with a user namespace holding the container's mappings), so that
  a file owned by 0 in the image shows as the mapped root; the layers on disk are not touched and
  stay shared with every other container of the image.  overlayfs itself cannot be idmapped, but
  takes idmapped layers.  The layers are given to overlayfs as ``/proc/self/fd/N`` of the
  detached mounts (no mount point appears), or, on kernels that refuse detached layers, through
  mount points under the container's directory, detached again once the overlay holds them;
- or, as the fallback (a file system without idmapped mounts, or the store setting
  ``"userns-rootfs": "copy"``), copies of the layers with every owner shifted, made once per mapping
  and layer under ``<root>/userns/<mapping key>/<snapshot id>`` and shared (docker's remapped layer
  store);
- the container's own upper layer in host ids (its root directory owned by the mapped root), so
  that what the container writes lands on disk as the mapped ids, as in a chown-shifted store.

A snapshot without an overlay (the vfs driver, or an image without layers) is the container's own
copy: it is idmapped as a whole, or shifted in place once (``<cdir>/userns-shifted`` records it).
"""

from __future__ import annotations

import os

from pallet.errors import RuntimeFailure

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from pallet.engine.service import Engine

    Record = dict[str, Any]


def mapping_key(userns: Record) -> str:
    """A directory name for a mapping: ``<root uid>.<root gid>-<digest of the mappings>``."""
    import hashlib
    import json

    from pallet.engine.userns import root_ids

    uid, gid = root_ids(userns)
    digest = hashlib.sha256(json.dumps([userns["UidMap"], userns["GidMap"]], sort_keys=True).encode()).hexdigest()
    return f"{uid}.{gid}-{digest[:12]}"


def _overlay_parts(options: list[str]) -> tuple[list[str], str, str, list[str]]:
    lowers: list[str] = []
    upper = work = ""
    rest: list[str] = []
    for opt in options:
        key, _, value = opt.partition("=")
        if key == "lowerdir":
            lowers = value.split(":")
        elif key == "upperdir":
            upper = value
        elif key == "workdir":
            work = value
        else:
            rest.append(opt)
    return lowers, upper, work, rest


def _use_idmap(engine: Engine, path: str, userns_fd: int) -> bool:
    from pallet.engine.userns import store_settings
    from pallet.runtime.idmap import supports_idmap

    mode = store_settings(engine.root).get("userns-rootfs", "auto")
    if mode == "copy":
        return False
    if supports_idmap(path, userns_fd):
        return True
    if mode == "idmap":
        raise RuntimeFailure(f"the store setting 'userns-rootfs' is 'idmap' but {path} does not support idmapped "
                             "mounts", step="rootfs")
    return False


def mount_rootfs(engine: Engine, record: Record, target: str, userns: Record) -> None:
    """Mount the remapped container's root filesystem at ``target``."""
    from pallet.engine.images import snapshotter
    from pallet.engine.userns import root_ids
    from pallet.runtime.idmap import make_userns

    cid = record["Id"]
    mounts = snapshotter(engine.root).mounts(cid)
    os.makedirs(target, exist_ok=True)
    userns_fd = make_userns(userns["UidMap"], userns["GidMap"])
    try:
        workdir = str(record["Config"].get("WorkingDir") or "")
        if len(mounts) == 1 and mounts[0].type == "overlay":
            lowers, upper, work, rest = _overlay_parts(mounts[0].options)
            _prepare_upper(upper, userns)
            if _use_idmap(engine, lowers[0], userns_fd):
                _mount_idmapped_overlay(engine, cid, target, lowers, upper, work, rest, userns_fd)
            else:
                shifted = [_shifted_layer(engine, lower, userns) for lower in lowers]
                _mount_overlay_fds(target, shifted, upper, work, rest)
            make_workdir(target, workdir, *root_ids(userns))
        elif len(mounts) == 1 and mounts[0].type == "bind":
            _mount_own_copy(engine, cid, mounts[0].source, target, userns, userns_fd, workdir)
        else:
            raise RuntimeFailure(f"cannot remap the root filesystem of container {cid}: unexpected snapshot mounts "
                                 f"{mounts}", step="rootfs")
    finally:
        os.close(userns_fd)


def make_workdir(rootfs: str, path: str, uid: int, gid: int) -> None:
    """Create the missing directories of the working directory ``path`` owned by ``uid``:``gid`` (the
    mapped root, as docker does for a remapped container; made by the host's root they would be
    nobody's inside).  Every step is resolved inside ``rootfs``; an error is left to the engine's
    own mkdir, which reports it."""
    if not path.strip("/"):
        return
    from pallet.engine.bundle import make_dirs_in_root

    try:
        make_dirs_in_root(rootfs, path, owner=(uid, gid))
    except OSError:
        return


def _prepare_upper(upper: str, userns: Record) -> None:
    """The upper layer's root directory (the container's /) owned by the mapped root."""
    from pallet.engine.userns import root_ids

    st = os.stat(upper)
    if (st.st_uid, st.st_gid) == (0, 0):
        os.chown(upper, *root_ids(userns))


def _overlay_data(lowers: list[str], upper: str, work: str, rest: list[str]) -> str:
    return ",".join([*rest, f"workdir={work}", f"upperdir={upper}", "lowerdir=" + ":".join(lowers)])


def _mount_overlay_fds(target: str, dirs: list[str], upper: str, work: str, rest: list[str]) -> None:
    """overlay with each lower given as /proc/self/fd/N of an O_PATH fd (short options, any depth)."""
    fds: list[int] = []
    try:
        for d in dirs:
            fds.append(os.open(d, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC))
        _mount_overlay(target, [f"/proc/self/fd/{fd}" for fd in fds], upper, work, rest)
    finally:
        for fd in fds:
            os.close(fd)


def _mount_overlay(target: str, lowers: list[str], upper: str, work: str, rest: list[str]) -> None:
    from pallet._linux.libc import SyscallError
    from pallet._linux.mount import mount

    try:
        mount("overlay", target, "overlay", 0, _overlay_data(lowers, upper, work, rest))
    except SyscallError as exc:
        raise RuntimeFailure(f"mounting the remapped root filesystem at {target} failed: {exc}", step="rootfs",
                             errno=exc.errno or 0) from None


def _idmapped_clone(path: str, userns_fd: int) -> int:
    from pallet._linux import consts as c
    from pallet._linux.mount import mount_setattr, open_tree

    fd = open_tree(path, c.OPEN_TREE_CLONE | c.OPEN_TREE_CLOEXEC)
    try:
        mount_setattr(fd, "", c.AT_EMPTY_PATH, c.MOUNT_ATTR_IDMAP, userns_fd=userns_fd)
    except BaseException:
        os.close(fd)
        raise
    return fd


def _mount_idmapped_overlay(engine: Engine, cid: str, target: str, lowers: list[str], upper: str, work: str,
                            rest: list[str], userns_fd: int) -> None:
    from pallet._linux import consts as c
    from pallet._linux.mount import move_mount, umount2

    fds: list[int] = []
    try:
        for lower in lowers:
            fds.append(_idmapped_clone(lower, userns_fd))
        try:
            _mount_overlay(target, [f"/proc/self/fd/{fd}" for fd in fds], upper, work, rest)
            return
        except RuntimeFailure as exc:
            if exc.errno != 22:  # EINVAL: this kernel wants layers attached to the mount tree
                raise
        base = engine.store.path(cid, "layers")
        os.makedirs(base, mode=0o700, exist_ok=True)
        attached: list[str] = []
        try:
            for i, fd in enumerate(fds):
                point = os.path.join(base, str(i))
                os.makedirs(point, exist_ok=True)
                move_mount(fd, "", c.AT_FDCWD, point, c.MOVE_MOUNT_F_EMPTY_PATH)
                attached.append(point)
            _mount_overlay_fds(target, attached, upper, work, rest)
        finally:
            for point in attached:
                umount2(point, c.MNT_DETACH)
            for name in os.listdir(base):
                os.rmdir(os.path.join(base, name))
            os.rmdir(base)
    finally:
        for fd in fds:
            os.close(fd)


def _shifted_layer(engine: Engine, lower: str, userns: Record) -> str:
    """The layer ``lower`` with owners shifted through the mapping, made once and shared."""
    import shutil

    from pallet.runtime.idmap import chown_copy

    real = os.path.realpath(lower)
    layer_id = os.path.basename(os.path.dirname(real)) if os.path.basename(real) == "fs" else os.path.basename(real)
    base = os.path.join(engine.root, "userns", mapping_key(userns))
    dest = os.path.join(base, layer_id)
    if os.path.isdir(dest):
        return dest
    os.makedirs(base, mode=0o700, exist_ok=True)
    tmp = os.path.join(base, f".tmp-{layer_id}-{os.urandom(4).hex()}")
    try:
        chown_copy(real, tmp, userns["UidMap"], userns["GidMap"])
        try:
            os.rename(tmp, dest)
        except OSError:
            if not os.path.isdir(dest):  # another container made it meanwhile: use theirs
                raise
    finally:
        if os.path.exists(tmp):
            shutil.rmtree(tmp, ignore_errors=True)
    return dest


def _mount_own_copy(engine: Engine, cid: str, source: str, target: str, userns: Record, userns_fd: int,
                    workdir: str) -> None:
    from pallet._linux import consts as c
    from pallet._linux.mount import mount, move_mount

    marker = engine.store.path(cid, "userns-shifted")
    if not os.path.exists(marker) and _use_idmap(engine, source, userns_fd):
        # the host's root cannot write through the idmapped mount (uid 0 has no mapping there):
        # the directories are made in the copy itself, in the container's ids
        make_workdir(source, workdir, 0, 0)
        fd = _idmapped_clone(source, userns_fd)
        try:
            move_mount(fd, "", c.AT_FDCWD, target, c.MOVE_MOUNT_F_EMPTY_PATH)
        finally:
            os.close(fd)
        return
    if not os.path.exists(marker):
        from pallet.runtime.idmap import shift_owners

        shift_owners(source, userns["UidMap"], userns["GidMap"])
        with open(marker, "w") as f:
            f.write(mapping_key(userns) + "\n")
    mount(source, target, None, c.MS_BIND | c.MS_REC)
    from pallet.engine.userns import root_ids

    make_workdir(target, workdir, *root_ids(userns))


def prune_shifted_layers(root: str) -> int:
    """Remove the shifted copies of layers whose snapshot no longer exists (after ``rmi``); returns
    how many were removed.  A copy being made (``.tmp-*``) is left alone."""
    import shutil

    from pallet.engine.images import snapshotter

    base = os.path.join(root, "userns")
    if not os.path.isdir(base):
        return 0
    snap = snapshotter(root)
    removed = 0
    for key in os.listdir(base):
        mapping_dir = os.path.join(base, key)
        for layer_id in os.listdir(mapping_dir):
            if layer_id.startswith(".tmp-") or os.path.isdir(snap.fs_dir(layer_id)):
                continue
            shutil.rmtree(os.path.join(mapping_dir, layer_id))
            removed += 1
        if not os.listdir(mapping_dir):
            os.rmdir(mapping_dir)
    return removed
