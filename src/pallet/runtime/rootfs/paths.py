"""Paths inside a container's root filesystem, resolved so that no symlink can lead outside it.

``resolve_in_root`` walks a path component by component as the kernel would if ``root`` were "/":
``..`` stops at the root, and a symlink (absolute or relative, in any number of hops) is followed
inside the root.  What it returns is a host path under ``root`` whose existing components are not
symlinks.  ``open_in_root`` then opens that path with O_PATH|O_NOFOLLOW and checks, through
/proc/self/fd, that the file it got is the one it meant: if another process swapped a directory
for a symlink in between, the check fails instead of mounting somewhere else.
"""

from __future__ import annotations

import os
import stat

from pallet.errors import ConfigError

MAX_LINKS = 255


def resolve_in_root(root: str, unsafe: str) -> str:
    """The host path of ``unsafe`` (a path as seen inside the container) under ``root``."""
    root = os.path.abspath(root)
    parts = [p for p in unsafe.split("/") if p and p != "."]
    resolved: list[str] = []
    links = 0
    while parts:
        part = parts.pop(0)
        if part == "..":
            if resolved:
                resolved.pop()
            continue
        candidate = os.path.join(root, *resolved, part)
        try:
            st = os.lstat(candidate)
        except (FileNotFoundError, NotADirectoryError):
            resolved.append(part)
            continue
        if stat.S_ISLNK(st.st_mode):
            links += 1
            if links > MAX_LINKS:
                raise ConfigError(f"too many levels of symbolic links resolving {unsafe!r} in {root}")
            target = os.readlink(candidate)
            if target.startswith("/"):
                resolved = []
            parts = [p for p in target.split("/") if p and p != "."] + parts
            continue
        resolved.append(part)
    return os.path.join(root, *resolved) if resolved else root


def is_within(root: str, path: str) -> bool:
    root = os.path.abspath(root)
    path = os.path.abspath(path)
    return path == root or path.startswith(root.rstrip("/") + "/")


def open_in_root(root: str, host_path: str, flags: int = 0) -> int:
    """Open ``host_path`` (from resolve_in_root) with O_PATH|O_NOFOLLOW and verify where it is."""
    fd = os.open(host_path, os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC | flags)
    try:
        real = os.readlink(f"/proc/self/fd/{fd}")
    except OSError:
        os.close(fd)
        raise
    if real != host_path or not is_within(root, real):
        os.close(fd)
        raise ConfigError(f"path {host_path!r} changed while it was being opened (now {real!r}): refusing to use it")
    return fd


def mkdir_all_in_root(root: str, host_path: str, mode: int = 0o755) -> None:
    """Create the directories of ``host_path`` (already resolved inside ``root``)."""
    if not is_within(root, host_path):
        raise ConfigError(f"{host_path!r} is outside the root filesystem {root!r}")
    rel = os.path.relpath(host_path, root)
    current = root
    if rel == ".":
        return
    for part in rel.split("/"):
        current = os.path.join(current, part)
        try:
            os.mkdir(current, mode)
        except FileExistsError:
            st = os.lstat(current)
            if stat.S_ISLNK(st.st_mode):
                # A symlink appeared after resolution: resolve again rather than follow it.
                raise ConfigError(f"{current!r} became a symlink while creating {host_path!r}") from None
            if not stat.S_ISDIR(st.st_mode):
                raise ConfigError(f"{current!r} exists and is not a directory (creating {host_path!r})") from None


def create_mount_target(root: str, host_path: str, is_dir: bool) -> None:
    """Make sure a mount destination exists: a directory, or an empty file for a file bind mount."""
    if is_dir:
        try:
            if stat.S_ISDIR(os.lstat(host_path).st_mode):
                return  # the usual case (open_in_root checks what it is when it opens it)
        except (FileNotFoundError, NotADirectoryError):
            pass
        mkdir_all_in_root(root, host_path)
        return
    mkdir_all_in_root(root, os.path.dirname(host_path))
    try:
        fd = os.open(host_path, os.O_CREAT | os.O_WRONLY | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
        os.close(fd)
    except IsADirectoryError:
        pass
