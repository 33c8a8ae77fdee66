"""User namespaces in the engine: ``--userns-remap`` and ``--userns host``.

docker's daemon option ``userns-remap`` made a setting of the store (``<root>/config.json``,
``{"userns-remap": "default"}``) and of a single container (``run --userns-remap SPEC``); ``--userns
host`` opts a container out.  SPEC is one of:

- ``default``: the user ``pallet-remap`` (docker's ``dockremap``); pallet never creates host users,
  so its ranges must be listed in the subordinate id files;
- ``user[:group]`` (names or numbers): that user's ranges in the subuid file, the group's in subgid;
- ``C:H:N[,C:H:N...]``: explicit mappings (the same for uids and gids), which must lie within ranges
  the subuid and subgid files list and must not overlap.

The subordinate id files are ``/etc/subuid`` and ``/etc/subgid`` unless ``PALLET_SUBUID_FILE`` /
``PALLET_SUBGID_FILE`` or the store settings ``subuid-file`` / ``subgid-file`` name others.

The mapping is resolved once, at create (bad input: a ConfigError, nothing made), and kept in the
record (``Pallet.Userns``), so that a later edit of the files does not change a container's owners.
At start, ``prepare_container`` makes what the runtime binds reachable for the mapped root and
``pallet.engine.userns_rootfs`` mounts the root filesystem; ``adjust_spec`` edits config.json.
"""

from __future__ import annotations

import os

from pallet.errors import ConfigError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from pallet.engine.service import Engine

    Record = dict[str, Any]
    Mapping = dict[str, int]

SETTINGS_FILE = "config.json"
DEFAULT_USER = "pallet-remap"
ROOTFS_MODES = ("auto", "idmap", "copy")


def store_settings(root: str) -> dict[str, Any]:
    """The store's settings (``<root>/config.json``); {} when the file does not exist."""
    from pallet import fastjson  # not json: this runs on every create (json imports re, ~5 ms)

    path = os.path.join(root, SETTINGS_FILE)
    try:
        with open(path, "rb") as f:
            doc = fastjson.loads(f.read())
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot read the store settings {path}: {exc}") from None
    if not isinstance(doc, dict):
        raise ConfigError(f"the store settings {path} must hold a JSON object, not {type(doc).__name__}")
    for key in ("userns-remap", "subuid-file", "subgid-file", "userns-rootfs"):
        if key in doc and not isinstance(doc[key], str):
            raise ConfigError(f"{path}: {key!r} must be a string, got {doc[key]!r}")
    mode = doc.get("userns-rootfs", "auto")
    if mode not in ROOTFS_MODES:
        raise ConfigError(f"{path}: 'userns-rootfs' {mode!r} is not one of {', '.join(ROOTFS_MODES)}")
    return doc


def subid_files(root: str, settings: dict[str, Any] | None = None) -> tuple[str, str]:
    """(subuid file, subgid file): the environment, else the store settings, else /etc's."""
    settings = store_settings(root) if settings is None else settings
    return (os.environ.get("PALLET_SUBUID_FILE") or settings.get("subuid-file") or "/etc/subuid",
            os.environ.get("PALLET_SUBGID_FILE") or settings.get("subgid-file") or "/etc/subgid")


def parse_explicit(spec: str) -> list[Mapping] | None:
    """``C:H:N[,C:H:N...]`` -> OCI mappings; None when ``spec`` is not of that form."""
    items = spec.split(",")
    out: list[Mapping] = []
    for item in items:
        parts = item.split(":")
        if len(parts) != 3 or not all(p.isdigit() for p in parts):
            return None
        out.append({"containerID": int(parts[0]), "hostID": int(parts[1]), "size": int(parts[2])})
    return out


def _explicit(maps: list[Mapping], subuid: str, subgid: str) -> tuple[list[Mapping], list[Mapping]]:
    from pallet.engine.security.subids import check_within, read_subid_file

    for m in maps:
        if m["size"] == 0:
            raise ConfigError(f"mapping {m['containerID']}:{m['hostID']}:0 is empty (size must be at least 1)")
        if m["hostID"] == 0:
            raise ConfigError(f"mapping {m['containerID']}:0:{m['size']} includes host id 0 (root)")
    for path in (subuid, subgid):
        ranges = sorted({r for rs in read_subid_file(path).values() for r in rs})
        check_within(maps, ranges, path)
    return maps, [dict(m) for m in maps]


def resolve(root: str, hostconfig: Record, remap: str = "") -> Record | None:
    """The container's user-namespace settings at create, or None for the host's namespace.

    ``remap`` is ``--userns-remap``; without it the store's ``userns-remap`` applies.  Returns
    ``{"Remap": spec, "UidMap": [...], "GidMap": [...]}`` (OCI mappings)."""
    mode = hostconfig.get("UsernsMode") or ""
    settings: dict[str, Any] | None = None
    source = "--userns-remap"
    spec = remap
    if mode == "host":
        if remap:
            raise ConfigError(f"conflicting options: --userns host and --userns-remap {remap!r}")
        return None
    if not spec:
        settings = store_settings(root)
        spec = settings.get("userns-remap") or ""
        source = f"'userns-remap' of {os.path.join(root, SETTINGS_FILE)}"
        if not spec:
            return None
    if hostconfig.get("Privileged"):
        raise ConfigError(f"privileged mode is incompatible with user namespaces (--userns-remap {spec!r} from "
                          f"{source}): run the container with --userns host to use --privileged")
    if (hostconfig.get("NetworkMode") or "") == "host":
        raise ConfigError(f"cannot share the host's network namespace with a user namespace (--userns-remap "
                          f"{spec!r} from {source}): use --userns host with --network host")
    subuid, subgid = subid_files(root, settings)
    explicit = parse_explicit(spec)
    try:
        if explicit is not None:
            uids, gids = _explicit(explicit, subuid, subgid)
        else:
            from pallet.engine.security.subids import remap as from_files

            uids, gids = from_files(DEFAULT_USER if spec == "default" else spec, subuid, subgid)
    except ConfigError as exc:
        raise ConfigError(f"invalid --userns-remap {spec!r} (from {source}): {exc}") from None
    if not any(m["containerID"] == 0 for m in uids) or not any(m["containerID"] == 0 for m in gids):
        raise ConfigError(f"invalid --userns-remap {spec!r} (from {source}): the mappings must map the "
                          "container's root (container id 0)")
    return {"Remap": spec, "UidMap": uids, "GidMap": gids}


def to_host(mappings: list[Mapping], cid: int) -> int | None:
    """The host id of container id ``cid`` through ``mappings`` (None if unmapped)."""
    for m in mappings:
        if m["containerID"] <= cid < m["containerID"] + m["size"]:
            return m["hostID"] + cid - m["containerID"]
    return None


def root_ids(userns: Record) -> tuple[int, int]:
    """The host uid and gid of the container's root."""
    uid = to_host(userns["UidMap"], 0)
    gid = to_host(userns["GidMap"], 0)
    assert uid is not None and gid is not None
    return uid, gid


def unreachable(path: str, uid: int, gid: int) -> str | None:
    """The first directory on the way to ``path`` that ``uid``/``gid`` may not search, or None."""
    import stat

    current = "/"
    parts = [p for p in os.path.abspath(path).split("/") if p]
    for part in ["", *parts[:-1]]:
        current = os.path.join(current, part) if part else current
        try:
            st = os.stat(current)
        except OSError:
            return None
        if not stat.S_ISDIR(st.st_mode):
            return None
        if st.st_uid == uid:
            ok = st.st_mode & stat.S_IXUSR
        elif st.st_gid == gid:
            ok = st.st_mode & stat.S_IXGRP
        else:
            ok = st.st_mode & stat.S_IXOTH
        if not ok:
            return current
    return None


def _refuse_unreachable(path: str, what: str, userns: Record) -> None:
    uid, gid = root_ids(userns)
    blocked = unreachable(path, uid, gid)
    if blocked is not None:
        mode = oct(os.stat(blocked).st_mode & 0o7777)
        raise ConfigError(f"{what} {path} cannot be reached by the container's root (host uid {uid}, gid {gid} with "
                          f"--userns-remap {userns['Remap']!r}): {blocked} is mode {mode}; give others search "
                          f"permission (chmod o+x) on it, or use --userns host")


def check_create(engine: Engine, record_mounts: list[Record], userns: Record) -> None:
    """At create: what the runtime will reach from inside the user namespace and pallet does not
    own (the directories above the state root, bind mount sources) must be reachable."""
    _refuse_unreachable(engine.root, "the state root", userns)
    for m in record_mounts:
        if m.get("Type") == "bind" and m.get("Source"):
            _refuse_unreachable(m["Source"], "bind mount source", userns)


def _searchable(path: str) -> None:
    """Give others search permission on a directory of the store (docker's 0711 on its root)."""
    import stat

    mode = os.stat(path).st_mode
    if not mode & stat.S_IXOTH:
        os.chmod(path, stat.S_IMODE(mode) | stat.S_IXOTH)


def prepare_container(engine: Engine, record: Record, userns: Record) -> None:
    """At start: the store's directories searchable, the container's directory searchable by the
    mapped root's group only (0710), its /etc files and its new (empty, root-owned) volumes owned
    by the mapped root, as docker's remapped root has them."""
    uid, gid = root_ids(userns)
    cid = record["Id"]
    cdir = engine.store.path(cid)
    _searchable(engine.root)
    _searchable(engine.store.dir)
    os.chown(cdir, 0, gid)
    os.chmod(cdir, 0o710)
    for name in ("hosts", "hostname", "resolv.conf"):
        path = os.path.join(cdir, name)
        if os.path.exists(path):
            os.chown(path, uid, gid)
    for m in record.get("Mounts") or []:
        if m.get("Type") != "volume":
            continue
        data = os.path.join(engine.root, "volumes", m["Name"], "_data")
        try:
            st = os.stat(data)
        except FileNotFoundError:
            continue
        _searchable(os.path.dirname(os.path.dirname(data)))
        _searchable(os.path.dirname(data))
        if (st.st_uid, st.st_gid) == (0, 0) and not os.listdir(data):
            os.chown(data, uid, gid)
        _refuse_unreachable(data, "volume", userns)
    _refuse_unreachable(os.path.join(cdir, "rootfs"), "the container's root filesystem", userns)


def adjust_spec(spec: Record, userns: Record) -> None:
    """config.json for a container in its own user namespace: the namespace and its mappings, and
    the mounts a user namespace cannot make as the host's root would.

    - /sys: sysfs can only be mounted by the owner of the network namespace, and the engine's
      network namespaces belong to the host's user namespace: the host's /sys is bound read-only,
      recursively ("rro"), as runc falls back to for such containers (it shows the host's network
      devices under /sys/class/net, as docker's remapped containers do);
    - the cgroup mount stays as it is: pallet-runtime binds the container's own cgroups and
      remounts them read-only, which a user namespace allows (docker clears "ro" there for runc);
    - devpts ``gid=5`` only when gid 5 is mapped."""
    linux = spec.setdefault("linux", {})
    namespaces = [ns for ns in linux.get("namespaces") or [] if ns.get("type") != "user"]
    namespaces.append({"type": "user"})
    linux["namespaces"] = namespaces
    linux["uidMappings"] = [dict(m) for m in userns["UidMap"]]
    linux["gidMappings"] = [dict(m) for m in userns["GidMap"]]
    gid5 = to_host(userns["GidMap"], 5) is not None
    for m in spec.get("mounts") or []:
        mtype, dest = m.get("type"), m.get("destination")
        if mtype == "sysfs" and dest == "/sys":
            ro = "ro" in (m.get("options") or [])
            m.update(type="bind", source="/sys",
                     options=["rbind", "nosuid", "noexec", "nodev", *(["ro", "rro"] if ro else [])])
        elif mtype == "devpts" and not gid5:
            m["options"] = [o for o in m.get("options") or [] if not o.startswith("gid=")]
