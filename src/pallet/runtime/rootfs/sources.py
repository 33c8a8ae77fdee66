"""Bind mount sources opened by the runtime's parent, in the host's namespaces.

The init makes its mounts from inside the container's namespaces. Two kinds of bind mount cannot
be made from there, so the parent makes them first as detached mounts (open_tree with
OPEN_TREE_CLONE), and the init moves each into place (move_mount onto its verified destination):

- an idmapped mount (options ``idmap``/``ridmap``): setting an id mapping needs privileges over the
  file system that only the host's user namespace has; the mapping comes from a user namespace made
  with the mount's own uidMappings/gidMappings, or else the container's;
- any bind mount of a container with a new user namespace: its source is opened by host root, so it
  need not be reachable by the container's mapped root (as runc does).
"""

from __future__ import annotations

import os

from pallet import fastjson
from pallet.errors import ConfigError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


def _is_bind(m: dict[str, Any]) -> bool:
    options = m.get("options") or []
    return m.get("type") == "bind" or "bind" in options or "rbind" in options


def prepare_bind_sources(mounts: list[dict[str, Any]], linux: dict[str, Any], *, new_userns: bool) -> dict[int, int]:
    """mounts[i] -> an fd of a detached mount, for the bind mounts that need one (see above)."""
    wanted = []
    for i, m in enumerate(mounts):
        if not isinstance(m, dict) or not _is_bind(m):
            continue
        idmap = any(o in ("idmap", "ridmap") for o in m.get("options") or [])
        if idmap or new_userns:
            wanted.append((i, m, idmap))
    if not wanted:
        return {}
    from pallet._linux import consts as c
    from pallet._linux.mount import mount_setattr, open_tree

    fds: dict[int, int] = {}
    userns: dict[str, int] = {}
    try:
        for i, m, idmap in wanted:
            options = m.get("options") or []
            recursive = "ridmap" in options or "rbind" in options
            rec = c.AT_RECURSIVE if recursive else 0
            source = str(m.get("source", ""))
            try:
                fd = open_tree(source, c.OPEN_TREE_CLONE | c.OPEN_TREE_CLOEXEC | rec)
            except FileNotFoundError:
                raise ConfigError(f"mounts[{i}].source {source!r} does not exist (bind mount on "
                                  f"{m.get('destination')})") from None
            except OSError as exc:
                raise ConfigError(f"mounts[{i}].source {source!r} cannot be opened for a bind mount: "
                                  f"{exc.strerror}") from None
            fds[i] = fd
            if not idmap:
                continue
            uids = m.get("uidMappings") or linux.get("uidMappings")
            gids = m.get("gidMappings") or linux.get("gidMappings")
            if not uids or not gids:
                raise ConfigError(f"mounts[{i}] asks for an idmapped mount: it needs uidMappings and gidMappings "
                                  "(its own, or the container's linux.uidMappings/gidMappings)")
            key = fastjson.dumps([uids, gids])
            if key not in userns:
                from pallet.runtime.idmap import make_userns

                userns[key] = make_userns(uids, gids)
            try:
                mount_setattr(fd, "", c.AT_EMPTY_PATH | rec, c.MOUNT_ATTR_IDMAP, userns_fd=userns[key])
            except OSError as exc:
                raise ConfigError(f"mounts[{i}]: {source!r} cannot be idmapped here: {exc.strerror} (the file "
                                  "system must support idmapped mounts)") from None
    except BaseException:
        for fd in fds.values():
            os.close(fd)
        raise
    finally:
        for fd in userns.values():
            os.close(fd)
    return fds
