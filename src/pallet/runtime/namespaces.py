"""Which namespaces a container gets: created with unshare, or joined by path with setns."""

from __future__ import annotations

import os

from pallet._linux.consts import CLONE_NEWUSER, NAMESPACES
from pallet.errors import ConfigError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pallet._linux.system import System


class NamespacePlan:
    """``unshare``: CLONE_* flags to create (without the user namespace, created first on its own);
    ``joins``: (flag, path) to join, the user namespace first; ``new_user``: create a user namespace."""

    __slots__ = ("joins", "new_types", "new_user", "types", "unshare")

    def __init__(self) -> None:
        self.unshare = 0
        self.joins: list[tuple[int, str, str]] = []
        self.new_user = False
        self.types: set[str] = set()
        self.new_types: set[str] = set()

    def has(self, kind: str) -> bool:
        return kind in self.types

    def is_new(self, kind: str) -> bool:
        return kind in self.new_types

    def runtime_forks_init(self) -> bool:
        """Whether the runtime can fork the init itself, with no intermediate process between them.

        Only the PID namespace needs a process outside it (a process's new or joined PID namespace
        is entered by its children): the runtime enters it around the fork.  The init makes or joins
        the others itself.  Not with a user namespace (its id maps are written for a process already
        in it, and the namespaces made after it must be owned by it), a time namespace (its offsets
        are written before its first process) or a mount or cgroup namespace joined by path (the
        init joins its cgroup through the host's cgroup files, once the runtime has made it).
        """
        if self.has("user") or self.has("time"):
            return False
        return self.joined("mount") is None and self.joined("cgroup") is None

    def joined(self, kind: str) -> str | None:
        """The path of the ``kind`` namespace to join, if it is joined rather than made or shared."""
        return next((path for _, path, k in self.joins if k == kind), None)


def plan(namespaces: list[dict[str, object]]) -> NamespacePlan:
    p = NamespacePlan()
    for i, ns in enumerate(namespaces):
        kind = str(ns.get("type", ""))
        if kind not in NAMESPACES:
            raise ConfigError(f"linux.namespaces[{i}].type {kind!r} is not a namespace type")
        flag = NAMESPACES[kind][0]
        p.types.add(kind)
        path = ns.get("path")
        if path:
            p.joins.append((flag, str(path), kind))
        elif flag == CLONE_NEWUSER:
            p.new_user = True
            p.new_types.add(kind)
        else:
            p.unshare |= flag
            p.new_types.add(kind)
    # Join the user namespace first: the others may be owned by it.
    p.joins.sort(key=lambda j: 0 if j[0] == CLONE_NEWUSER else 1)
    return p


def open_path(path: str, kind: str) -> int:
    """An fd of the ``kind`` namespace at ``path``, to join."""
    try:
        return os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError as exc:
        raise ConfigError(f"{kind} namespace path {path!r} cannot be opened: {exc.strerror}") from None


def open_joins(p: NamespacePlan, *, skip: tuple[str, ...] = ()) -> list[tuple[int, int, str]]:
    """Open every namespace to join (but the ``skip`` kinds) before joining any (a mount namespace
    hides the others' paths)."""
    opened: list[tuple[int, int, str]] = []
    try:
        for flag, path, kind in p.joins:
            if kind not in skip:
                opened.append((flag, open_path(path, kind), kind))
    except BaseException:
        for _, fd, _ in opened:
            os.close(fd)
        raise
    return opened


def join(sys: System, opened: list[tuple[int, int, str]]) -> None:
    for flag, fd, kind in opened:
        try:
            sys.setns(fd, flag)
        except OSError as exc:
            raise ConfigError(f"joining the {kind} namespace failed: {exc.strerror}") from None
        finally:
            os.close(fd)


def format_id_map(mappings: list[dict[str, object]]) -> str:
    """uid_map/gid_map content: one "containerID hostID size" line per mapping."""
    return "".join(f"{m['containerID']} {m['hostID']} {m['size']}\n" for m in mappings)


def write_id_maps(pid: int, uid_mappings: list[dict[str, object]], gid_mappings: list[dict[str, object]]) -> None:
    """Written by the runtime (in the parent user namespace) for the child that unshared CLONE_NEWUSER."""
    for name, maps in (("uid_map", uid_mappings), ("gid_map", gid_mappings)):
        if not maps:
            continue
        data = format_id_map(maps)
        try:
            fd = os.open(f"/proc/{pid}/{name}", os.O_WRONLY | os.O_CLOEXEC)
            try:
                os.write(fd, data.encode())
            finally:
                os.close(fd)
        except OSError as exc:
            where = "linux.uidMappings" if name == "uid_map" else "linux.gidMappings"
            raise ConfigError(f"{where} cannot be written to /proc/{pid}/{name} ({data.strip()!r}): {exc.strerror}") from None
