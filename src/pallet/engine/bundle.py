"""A container's OCI bundle: its root filesystem mounted, /etc files written, config.json generated.

``<root>/containers/<id>/rootfs`` is where the snapshot is mounted while the container runs (docker's
MergedDir), ``<root>/containers/<id>/bundle/config.json`` the spec given to the runtime.  ``release``
undoes ``prepare`` and is safe to call twice.
"""

from __future__ import annotations

import os

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from pallet.engine.service import Engine

    Record = dict[str, Any]


def cgroups_path(engine: Engine, record: Record) -> str:
    """The one place that names a container's cgroup: /<cgroup parent>/<id>."""
    parent = str(record["HostConfig"].get("CgroupParent") or engine.cgroup_parent())
    return "/" + parent.strip("/") + "/" + str(record["Id"])


def rootfs_dir(engine: Engine, cid: str) -> str:
    return engine.store.path(cid, "rootfs")


def prepare(engine: Engine, record: Record) -> tuple[str, dict[str, Any]]:
    """Mount the root filesystem and write the bundle; returns the bundle directory and the spec
    written to its config.json (the in-process runtime takes it as it is)."""
    from pallet import fastjson
    from pallet.atomicfile import write_atomic
    from pallet.engine import images, networking, specgen

    cid = record["Id"]
    rootfs = rootfs_dir(engine, cid)
    bundle = engine.store.path(cid, "bundle")
    os.makedirs(bundle, exist_ok=True)
    networking.setup(engine, record)  # netns, endpoints, ports; hosts, hostname, resolv.conf
    images.unmount_rootfs(rootfs)
    userns = (record.get("Pallet") or {}).get("Userns")
    if userns:  # --userns-remap: the layers seen through the mapping (pallet.engine.userns)
        from pallet.engine import userns as remap
        from pallet.engine import userns_rootfs

        remap.prepare_container(engine, record, userns)
        userns_rootfs.mount_rootfs(engine, record, rootfs, userns)
    else:
        images.mount_rootfs(engine.root, cid, rootfs, volatile=bool(record["HostConfig"].get("AutoRemove")))
    try:
        workdir = record["Config"].get("WorkingDir") or ""
        if workdir.strip("/"):
            try:
                make_dirs_in_root(rootfs, workdir)  # docker creates a missing working directory
            except OSError as exc:
                from pallet.errors import ConfigError

                raise ConfigError(f"cannot create the working directory {workdir!r} (from -w/--workdir or the "
                                  f"image) in the container: {exc.strerror}") from None
        for m in record.get("Mounts") or []:
            if m.get("Type") == "volume":
                os.makedirs(os.path.join(engine.root, "volumes", m["Name"], "_data"), exist_ok=True)
        spec = specgen.generate(
            record, rootfs, cgroups_path=cgroups_path(engine, record), container_dir=engine.store.path(cid),
            volumes_dir=os.path.join(engine.root, "volumes"),
            netns=(record.get("Pallet") or {}).get("NetNS"), cache_dir=os.path.join(engine.runroot, "cache"),
        )
        write_atomic(os.path.join(bundle, "config.json"), fastjson.dumps(spec))
    except BaseException:
        images.unmount_rootfs(rootfs)
        raise
    return bundle, spec


def make_dirs_in_root(rootfs: str, path: str, owner: tuple[int, int] | None = None) -> None:
    """mkdir -p ``path`` inside ``rootfs``, every step resolved inside it (a symlink in the image
    cannot lead the directories out of the container's root); new ones given to ``owner`` if set."""
    from pallet._linux.openat2 import open_in_root

    root_fd = os.open(rootfs, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        done = ""
        for part in [p for p in path.split("/") if p and p != "."]:
            step = f"{done}/{part}"
            try:
                os.close(open_in_root(root_fd, step, os.O_PATH | os.O_DIRECTORY))
            except FileNotFoundError:
                parent = open_in_root(root_fd, done or "/", os.O_PATH | os.O_DIRECTORY)
                try:
                    os.mkdir(part, 0o755, dir_fd=parent)
                    if owner is not None:
                        os.chown(part, owner[0], owner[1], dir_fd=parent, follow_symlinks=False)
                except FileExistsError:
                    pass
                finally:
                    os.close(parent)
            done = step
    finally:
        os.close(root_fd)


def release(engine: Engine, record: Record) -> None:
    from pallet.engine import images, networking

    images.unmount_rootfs(rootfs_dir(engine, record["Id"]))
    networking.teardown(engine, record)


def oom_killed(engine: Engine, record: Record) -> bool:
    """True if the kernel's OOM killer killed a process in the container's memory cgroup."""
    rel = cgroups_path(engine, record).lstrip("/")
    for path in (f"/sys/fs/cgroup/memory/{rel}/memory.oom_control", f"/sys/fs/cgroup/{rel}/memory.events"):
        try:
            with open(path) as f:
                for line in f:
                    key, _, value = line.partition(" ")
                    if key == "oom_kill" and int(value) > 0:
                        return True
        except (OSError, ValueError):
            continue
    return False


def remove_volumes(engine: Engine, record: Record, *, anonymous_only: bool, enabled: bool) -> None:
    """docker rm -v: remove the container's anonymous volumes."""
    if not enabled:
        return
    import shutil

    for m in record.get("Mounts") or []:
        if m.get("Type") == "volume" and (m.get("Anonymous") or not anonymous_only):
            shutil.rmtree(os.path.join(engine.root, "volumes", m["Name"]), ignore_errors=True)
