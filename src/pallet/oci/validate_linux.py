"""Checks of the ``linux`` section of config.json, and of the fields that need its namespaces.

Each check reads one field (or one rule between fields) and raises
:class:`pallet.errors.ValidationError` naming it.  They run after the checks of
:mod:`pallet.oci.validate`, in the order of :data:`LINUX_CHECKS`; ``check_namespaces`` comes
first, so the later checks may read the namespace list as valid.
"""

from __future__ import annotations

import os

from pallet.errors import ValidationError
from pallet.oci import _check as c
from pallet.oci.names import (
    DEVICE_TYPES,
    NAMESPACE_TYPES,
    PERSONALITY_DOMAINS,
    ROOTFS_PROPAGATIONS,
    SYSCTL_NAMES,
    SYSCTL_PREFIXES,
    TIME_CLOCKS,
    sysctl_namespace,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

_ADD_NS = 'add {{"type": "{0}"}} to linux.namespaces'


def _linux(doc: dict[str, object]) -> dict[str, object]:
    return c.optional(doc, "linux", "", c.obj) or {}


def namespaces(doc: dict[str, object]) -> dict[str, tuple[int, str]]:
    """The namespaces of a checked config: type -> (index in linux.namespaces, path or "")."""
    result: dict[str, tuple[int, str]] = {}
    for i, entry in enumerate(c.optional(_linux(doc), "namespaces", "linux", c.array) or ()):
        ns = c.obj(entry, f"linux.namespaces[{i}]")
        result[str(ns.get("type"))] = (i, str(ns.get("path") or ""))
    return result


def _need_namespace(doc: dict[str, object], kind: str, path: str) -> tuple[int, str]:
    found = namespaces(doc).get(kind)
    if found is None:
        article = "an" if kind == "ipc" else "a"
        raise ValidationError(path, f"needs {article} {kind} namespace: {_ADD_NS.format(kind)}")
    return found


def check_namespaces(doc: dict[str, object], bundle: str | None) -> None:
    linux = c.optional(doc, "linux", "", c.obj)
    if linux is None:
        raise ValidationError("linux", "is required (pallet runs Linux containers)")
    seen: dict[str, int] = {}
    for i, entry in enumerate(c.optional(linux, "namespaces", "linux", c.array) or ()):
        p = f"linux.namespaces[{i}]"
        ns = c.obj(entry, p)
        kind = c.one_of(c.required(ns, "type", p), f"{p}.type", NAMESPACE_TYPES, "a namespace type")
        if kind in seen:
            raise ValidationError(f"{p}.type", f"{c.show(kind)} is given twice (first at linux.namespaces[{seen[kind]}])")
        seen[kind] = i
        c.optional(ns, "path", p, c.abspath)
    if "mount" not in seen:
        raise ValidationError(
            "linux.namespaces", f"must hold a mount namespace (the container's mounts need one): {_ADD_NS.format('mount')}"
        )


def check_user_namespace(doc: dict[str, object], bundle: str | None) -> None:
    from pallet.oci.validate import check_id_mappings

    linux = _linux(doc)
    uids = c.optional(linux, "uidMappings", "linux", check_id_mappings)
    gids = c.optional(linux, "gidMappings", "linux", check_id_mappings)
    user = namespaces(doc).get("user")
    for name, maps in (("uidMappings", uids), ("gidMappings", gids)):
        if maps and user is None:
            raise ValidationError(f"linux.{name}", f"needs a user namespace: {_ADD_NS.format('user')}")
        if user is not None and not user[1] and not maps:
            raise ValidationError(f"linux.{name}", "is required to create a user namespace (give at least one mapping)")
    if user is None or user[1]:
        return
    process = doc.get("process")
    owner = process.get("user") if isinstance(process, dict) else None
    if not isinstance(owner, dict):
        return
    for field, maps, mapping in (("uid", uids, "uidMappings"), ("gid", gids, "gidMappings")):
        ident = owner.get(field, 0)
        if not isinstance(ident, int):
            continue
        if not any(start <= ident < start + size for start, _, size in maps or ()):
            raise ValidationError(f"process.user.{field}", f"{ident} is not mapped by linux.{mapping}")


def check_time_offsets(doc: dict[str, object], bundle: str | None) -> None:
    offsets = c.optional(_linux(doc), "timeOffsets", "linux", c.obj)
    if not offsets:
        return
    _need_namespace(doc, "time", "linux.timeOffsets")
    for clock, entry in offsets.items():
        p = f"linux.timeOffsets.{clock}"
        if clock not in TIME_CLOCKS:
            raise ValidationError(p, f"is not a clock with an offset (allowed: {', '.join(TIME_CLOCKS)})")
        offset = c.obj(entry, p)
        c.optional(offset, "secs", p, c.integer)
        c.optional(offset, "nanosecs", p, lambda v, q: c.integer(v, q, 0, 999_999_999))


def check_devices(doc: dict[str, object], bundle: str | None) -> None:
    for i, entry in enumerate(c.optional(_linux(doc), "devices", "linux", c.array) or ()):
        p = f"linux.devices[{i}]"
        dev = c.obj(entry, p)
        kind = c.one_of(c.required(dev, "type", p), f"{p}.type", DEVICE_TYPES, "a device type")
        c.abspath(c.required(dev, "path", p), f"{p}.path")
        for name in ("major", "minor"):
            if kind != "p":
                c.required(dev, name, p)
            c.optional(dev, name, p, lambda v, q: c.integer(v, q, 0, c.UINT32_MAX))
        c.optional(dev, "fileMode", p, lambda v, q: c.integer(v, q, 0, 0o7777))
        c.optional(dev, "uid", p, c.uint32)
        c.optional(dev, "gid", p, c.uint32)


def check_cgroups_path(doc: dict[str, object], bundle: str | None) -> None:
    path = c.optional(_linux(doc), "cgroupsPath", "linux", c.string)
    if path and ".." in path.split("/"):
        raise ValidationError("linux.cgroupsPath", f"{c.show(path)} must not contain .. (it would leave the cgroup root)")


def check_resources(doc: dict[str, object], bundle: str | None) -> None:
    from pallet.oci.validate_resources import validate_resources

    resources = _linux(doc).get("resources")
    if resources is not None:
        validate_resources(resources, "linux.resources")


def check_intel_rdt(doc: dict[str, object], bundle: str | None) -> None:
    rdt = c.optional(_linux(doc), "intelRdt", "linux", c.obj)
    if rdt is None:
        return
    clos = c.optional(rdt, "closID", "linux.intelRdt", c.string)
    if clos is not None and ("/" in clos or clos in (".", "..")):
        raise ValidationError("linux.intelRdt.closID", f"{c.show(clos)} must be a plain name (no / and not . or ..)")
    for name in ("l3CacheSchema", "memBwSchema"):
        c.optional(rdt, name, "linux.intelRdt", c.string)
    for name in ("enableCMT", "enableMBM"):
        c.optional(rdt, name, "linux.intelRdt", c.boolean)


def _is_host_namespace(path: str, kind: str) -> bool:
    """True when ``path`` is the namespace this process is in (the host's, for the runtime)."""
    from pallet._linux.consts import NAMESPACES

    try:
        mine = os.stat(f"/proc/self/ns/{NAMESPACES[kind][1]}")
        theirs = os.stat(path)
    except OSError:
        return False
    return (mine.st_dev, mine.st_ino) == (theirs.st_dev, theirs.st_ino)


def check_sysctl(doc: dict[str, object], bundle: str | None) -> None:
    sysctls = c.optional(_linux(doc), "sysctl", "linux", c.obj)
    for name, value in (sysctls or {}).items():
        p = c.item("linux.sysctl", name)
        c.string(value, p)
        kind = sysctl_namespace(name)
        if kind is None:
            allowed = ", ".join([f"{prefix}*" for prefix, _ in SYSCTL_PREFIXES] + list(SYSCTL_NAMES))
            raise ValidationError(p, f"is not namespaced: setting it would change the host (allowed: {allowed})")
        index, ns_path = _need_namespace(doc, kind, p)
        if ns_path and _is_host_namespace(ns_path, kind):
            raise ValidationError(
                p, f"needs a {kind} namespace that is not the host's (linux.namespaces[{index}].path {ns_path} is the host's)"
            )
        if name.replace("/", ".") == "kernel.hostname" and doc.get("hostname"):
            raise ValidationError(p, "conflicts with the hostname field: set only one of them")
        if name.replace("/", ".") == "kernel.domainname" and doc.get("domainname"):
            raise ValidationError(p, "conflicts with the domainname field: set only one of them")


def check_uts_names(doc: dict[str, object], bundle: str | None) -> None:
    for name in ("hostname", "domainname"):
        if doc.get(name):
            _need_namespace(doc, "uts", name)


def check_seccomp(doc: dict[str, object], bundle: str | None) -> None:
    seccomp = _linux(doc).get("seccomp")
    if seccomp is not None:
        from pallet.oci.validate_seccomp import validate_seccomp  # (only for a config that has one)

        validate_seccomp(seccomp, "linux.seccomp")


def check_paths(doc: dict[str, object], bundle: str | None) -> None:
    linux = _linux(doc)
    c.optional(linux, "rootfsPropagation", "linux", lambda v, q: c.one_of(v, q, ROOTFS_PROPAGATIONS, "a propagation"))
    for name in ("maskedPaths", "readonlyPaths"):
        for i, path in enumerate(c.optional(linux, name, "linux", c.array) or ()):
            c.abspath(path, f"linux.{name}[{i}]")
    c.optional(linux, "mountLabel", "linux", c.string)


def check_personality(doc: dict[str, object], bundle: str | None) -> None:
    persona = c.optional(_linux(doc), "personality", "linux", c.obj)
    if persona is None:
        return
    p = "linux.personality"
    c.one_of(c.required(persona, "domain", p), f"{p}.domain", PERSONALITY_DOMAINS, "an execution domain")
    c.optional(persona, "flags", p, c.strings)


def check_net_devices(doc: dict[str, object], bundle: str | None) -> None:
    devices = c.optional(_linux(doc), "netDevices", "linux", c.obj)
    if not devices:
        return
    _, ns_path = _need_namespace(doc, "network", "linux.netDevices")
    for name, entry in devices.items():
        p = c.item("linux.netDevices", name)
        if not name or "/" in name or name in (".", ".."):
            raise ValidationError(p, "is not a network interface name")
        target = c.optional(c.obj(entry, p), "name", p, c.string)
        if target is not None and ("/" in target or target in (".", "..")):
            raise ValidationError(f"{p}.name", f"{c.show(target)} is not a network interface name")
    if ns_path and _is_host_namespace(ns_path, "network"):
        raise ValidationError("linux.netDevices", f"needs a network namespace that is not the host's ({ns_path})")


LINUX_CHECKS: tuple[Callable[[dict[str, object], str | None], None], ...] = (
    check_namespaces,
    check_user_namespace,
    check_uts_names,
    check_time_offsets,
    check_devices,
    check_cgroups_path,
    check_resources,
    check_intel_rdt,
    check_sysctl,
    check_seccomp,
    check_paths,
    check_personality,
    check_net_devices,
)
