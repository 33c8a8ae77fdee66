"""Named and anonymous volumes of the local driver: ``<root>/volumes/<name>/_data``.

A volume's metadata (creation time, labels, whether it is anonymous) is ``<root>/volumes/<name>/
volume.json``; a directory without it (made by an older pallet) is still a volume, created when its
directory was.  Volumes are made by ``volume create`` or on first use by ``run -v name:/path`` (an
anonymous one by ``-v /path``); ``rm -v`` removes a container's anonymous volumes, ``volume prune``
the anonymous ones no container uses (``-a``: every unused one), as docker does since 23.0.
"""

from __future__ import annotations

import os

from pallet import fastjson
from pallet.atomicfile import write_atomic
from pallet.errors import ConfigError, ConflictError, NotFoundError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from pallet.engine.service import Engine


def volumes_dir(root: str) -> str:
    return os.path.join(root, "volumes")


def check_name(name: str, source: str = "volume name") -> str:
    if len(name) < 2 or not name[0].isalnum() or not all(c.isalnum() or c in "_.-" for c in name):
        raise ConfigError(f"invalid {source} {name!r}: only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed "
                          "(at least 2 characters)")
    return name


def create(root: str, name: str | None = None, labels: dict[str, str] | None = None,
           driver: str = "local", options: dict[str, str] | None = None, anonymous: bool = False) -> dict[str, Any]:
    """Create the volume (or return the existing one of that name, as docker does)."""
    import secrets

    from pallet.engine.store import now_iso

    if driver != "local":
        raise ConfigError(f"invalid volume driver {driver!r}: only 'local' is available")
    if options:
        raise ConfigError(f"invalid volume options {sorted(options)}: the local driver here takes none")
    name = check_name(name) if name else secrets.token_hex(32)
    base = os.path.join(volumes_dir(root), name)
    meta = os.path.join(base, "volume.json")
    if os.path.exists(meta):
        return inspect(root, name)
    os.makedirs(os.path.join(base, "_data"), exist_ok=True)
    doc = {"CreatedAt": now_iso(), "Labels": labels or {}, "Options": {}, "Anonymous": anonymous}
    write_atomic(meta, fastjson.dumps(doc))
    return inspect(root, name)


def ensure_for_mounts(root: str, mounts: list[dict[str, Any]]) -> None:
    """Create the volumes a new container's mounts name (at create time, as docker does)."""
    for m in mounts:
        if m.get("Type") == "volume":
            create(root, m["Name"], anonymous=bool(m.get("Anonymous")))


def inspect(root: str, name: str) -> dict[str, Any]:
    """docker's volume inspect document; NotFoundError with docker's wording."""
    base = os.path.join(volumes_dir(root), name)
    if "/" in name or name in ("", ".", "..") or not os.path.isdir(os.path.join(base, "_data")):
        raise NotFoundError(f"get {name}: no such volume")
    try:
        with open(os.path.join(base, "volume.json")) as f:
            meta: dict[str, Any] = fastjson.loads(f.read())  # type: ignore[assignment]
    except (OSError, ValueError):
        from pallet.engine.store import now_iso

        meta = {"CreatedAt": now_iso(os.stat(base).st_mtime_ns), "Labels": {}, "Options": {}}
    return {"CreatedAt": meta["CreatedAt"], "Driver": "local", "Labels": meta.get("Labels") or {},
            "Mountpoint": os.path.join(base, "_data"), "Name": name, "Options": meta.get("Options") or {},
            "Scope": "local", "Anonymous": bool(meta.get("Anonymous"))}


def names(root: str) -> list[str]:
    try:
        entries = sorted(os.listdir(volumes_dir(root)))
    except FileNotFoundError:
        return []
    return [n for n in entries if os.path.isdir(os.path.join(volumes_dir(root), n, "_data"))]


def users(engine: Engine, name: str) -> list[str]:
    """Ids of the containers (any state) that mount the volume ``name``."""
    return [r["Id"] for r in engine.store.iter_records()
            if any(m.get("Type") == "volume" and m.get("Name") == name for m in r.get("Mounts") or [])]


def remove(engine: Engine, name: str, force: bool = False) -> str:
    """docker volume rm: refused while a container uses it (``force`` does not override that either)."""
    inspect(engine.root, name)
    used = users(engine, name)
    if used:
        raise ConflictError(f"remove {name}: volume is in use - [{', '.join(used)}]")
    import shutil

    shutil.rmtree(os.path.join(volumes_dir(engine.root), name))
    return name


def prune(engine: Engine, all_unused: bool = False, label_filters: list[str] | None = None) -> tuple[list[str], int]:
    """Remove unused volumes (anonymous ones, or every one with ``all_unused``); (names, bytes freed)."""
    from pallet.fstree import usage

    removed, freed = [], 0
    used = {m.get("Name") for r in engine.store.iter_records() for m in r.get("Mounts") or []
            if m.get("Type") == "volume"}
    for name in names(engine.root):
        doc = inspect(engine.root, name)
        if name in used or not (all_unused or doc["Anonymous"]):
            continue
        if not all(_label_matches(doc["Labels"], f) for f in label_filters or []):
            continue
        freed += usage(doc["Mountpoint"]).apparent
        import shutil

        shutil.rmtree(os.path.join(volumes_dir(engine.root), name))
        removed.append(name)
    return removed, freed


def _label_matches(labels: dict[str, str], value: str) -> bool:
    key, sep, want = value.partition("=")
    return key in labels and (not sep or labels[key] == want)
