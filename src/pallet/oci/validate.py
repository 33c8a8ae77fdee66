"""Validation of OCI documents: config.json, process.json, container ids.

A config is checked by a list of small functions (:data:`CONFIG_CHECKS`, then the ``linux`` ones
of :mod:`pallet.oci.validate_linux`), each reading one field; the first problem raises
:class:`pallet.errors.ValidationError` whose message starts with the field's JSON path and shows
the value and what is allowed::

    process.args must not be empty
    mounts[3].destination "rel/x" must be an absolute path
    process.user.uid must be an integer, got "0"

This module is on the container start path: standard library only, imported lazily where it
costs (no ``re``, ``typing``, ``dataclasses`` at run time).
"""

from __future__ import annotations

import os

from pallet.errors import ConfigError, ValidationError
from pallet.oci import _check as c
from pallet.oci.names import HOOK_NAMES, IOPRIO_CLASSES, RLIMIT_TYPES, SCHED_FLAGS, SCHED_POLICIES

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

    Check = Callable[[dict[str, object], str | None], None]

CONTAINER_ID_MAX = 1024
_ID_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_+.-")
_CAP_SETS = ("bounding", "effective", "inheritable", "permitted", "ambient")
_HOST_NAME_MAX = 64


# --- entry points -----------------------------------------------------------------------------


def validate_container_id(container_id: object) -> str:
    """Check a container id as runc does; return it.  Raises ConfigError naming the id."""
    if not isinstance(container_id, str):
        raise ConfigError(f"container id must be a string, got {c.show(container_id)}")
    if not container_id:
        raise ConfigError("container id must not be empty")
    if container_id in (".", ".."):
        raise ConfigError(f"container id {c.show(container_id)} is invalid: it must not be . or ..")
    if len(container_id) > CONTAINER_ID_MAX:
        raise ConfigError(
            f"container id {c.show(container_id)} is invalid: it has {len(container_id)} characters "
            f"(at most {CONTAINER_ID_MAX})"
        )
    bad = sorted(set(container_id) - _ID_CHARS)
    if bad:
        raise ConfigError(
            f"container id {c.show(container_id)} is invalid: it holds {c.show(''.join(bad))} "
            "(allowed: letters, digits and _ + . -)"
        )
    return container_id


def load_config(bundle: str) -> dict[str, object]:
    """Read and validate ``<bundle>/config.json``; return the document."""
    import json

    path = os.path.join(bundle, "config.json")
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except FileNotFoundError:
        if not os.path.isdir(bundle):
            raise ConfigError(f"bundle {bundle} does not exist or is not a directory") from None
        raise ConfigError(
            f"{path} does not exist: a bundle needs a config.json (`pallet-runtime spec` writes one)"
        ) from None
    except OSError as e:
        raise ConfigError(f"cannot read {path}: {e.strerror}") from None
    try:
        config = json.loads(raw)
    except json.JSONDecodeError as e:
        raise ConfigError(f"{path} is not valid JSON: {e.msg} at line {e.lineno}, column {e.colno}") from None
    except UnicodeDecodeError as e:
        raise ConfigError(f"{path} is not valid JSON: it is not UTF-8 text ({e.reason} at byte {e.start})") from None
    try:
        validate_config(config, bundle=bundle)
    except ValidationError as e:
        raise ValidationError(e.path, f"{str(e)[len(e.path) + 1 if e.path else 0:]} (in {path})") from None
    return config  # type: ignore[no-any-return]


def validate_config(config: object, *, bundle: str | None = None) -> None:
    """Check a config.json document; with ``bundle``, also that root.path exists in it."""
    from pallet.oci.validate_linux import LINUX_CHECKS

    if not isinstance(config, dict):
        raise c.wrong_type("config", "a JSON object", config)
    for check in (*CONFIG_CHECKS, *LINUX_CHECKS):
        check(config, bundle)


def validate_process(process: object, path: str = "process") -> None:
    """Check a ``process`` object (of config.json, or an exec's process.json)."""
    doc = c.obj(process, path)
    for check in PROCESS_CHECKS:
        check(doc, path)


# --- top-level fields -------------------------------------------------------------------------


def check_oci_version(doc: dict[str, object], bundle: str | None) -> None:
    version = c.string(c.required(doc, "ociVersion", ""), "ociVersion", nonempty=True)
    core = version.split("+", 1)[0].split("-", 1)[0]
    parts = core.split(".")
    if len(parts) != 3 or not all(p.isdigit() for p in parts):
        raise ValidationError("ociVersion", f"{c.show(version)} is not a version (like 1.2.0)")
    if int(parts[0]) != 1:
        raise ValidationError("ociVersion", f"{c.show(version)} is not supported (allowed: 1.x.y)")


def check_root(doc: dict[str, object], bundle: str | None) -> None:
    root = c.obj(c.required(doc, "root", ""), "root")
    path = c.string(c.required(root, "path", "root"), "root.path", nonempty=True)
    c.optional(root, "readonly", "root", c.boolean)
    if bundle is not None:
        full = os.path.join(bundle, path)
        if not os.path.exists(full):
            raise ValidationError("root.path", f"{c.show(path)} does not exist (looked for {full})")
        if not os.path.isdir(full):
            raise ValidationError("root.path", f"{c.show(path)} is not a directory ({full})")


def check_mounts(doc: dict[str, object], bundle: str | None) -> None:
    from pallet.oci.mountopts import parse_mount_options

    mounts = c.optional(doc, "mounts", "", c.array)
    for i, entry in enumerate(mounts or ()):
        path = f"mounts[{i}]"
        mount = c.obj(entry, path)
        c.abspath(c.required(mount, "destination", path), f"{path}.destination")
        kind = c.optional(mount, "type", path, c.string)
        source = c.optional(mount, "source", path, c.string)
        options = c.optional(mount, "options", path, c.strings) or []
        parsed = parse_mount_options(options, f"{path}.options")
        if (parsed.bind or kind == "bind") and not source:
            raise ValidationError(f"{path}.source", "is required for a bind mount")
        uids = c.optional(mount, "uidMappings", path, check_id_mappings)
        gids = c.optional(mount, "gidMappings", path, check_id_mappings)
        if (uids is None) != (gids is None):
            given, missing = ("uidMappings", "gidMappings") if gids is None else ("gidMappings", "uidMappings")
            raise ValidationError(f"{path}.{missing}", f"is required with {path}.{given} (an idmapped mount needs both)")


def check_id_mappings(value: object, path: str) -> list[tuple[int, int, int]]:
    """A list of {containerID, hostID, size}; returns (container, host, size) triples."""
    result: list[tuple[int, int, int]] = []
    for i, entry in enumerate(c.array(value, path)):
        p = f"{path}[{i}]"
        m = c.obj(entry, p)
        inside = c.uint32(c.required(m, "containerID", p), f"{p}.containerID")
        outside = c.uint32(c.required(m, "hostID", p), f"{p}.hostID")
        size = c.integer(c.required(m, "size", p), f"{p}.size", 1, c.UINT32_MAX)
        for name, start in (("containerID", inside), ("hostID", outside)):
            if start + size - 1 > c.UINT32_MAX:
                raise ValidationError(p, f"{name} {start} + size {size} goes past the last id {c.UINT32_MAX}")
        for j, (other_in, _, other_size) in enumerate(result):
            if inside < other_in + other_size and other_in < inside + size:
                raise ValidationError(p, f"overlaps {path}[{j}] in the container's ids")
        result.append((inside, outside, size))
    return result


def check_process(doc: dict[str, object], bundle: str | None) -> None:
    validate_process(c.required(doc, "process", ""))


def check_names(doc: dict[str, object], bundle: str | None) -> None:
    for name in ("hostname", "domainname"):
        text = c.optional(doc, name, "", c.string)
        if isinstance(text, str) and len(text.encode()) > _HOST_NAME_MAX:
            raise ValidationError(name, f"{c.show(text)} is longer than {_HOST_NAME_MAX} bytes")


def check_hooks(doc: dict[str, object], bundle: str | None) -> None:
    hooks = c.optional(doc, "hooks", "", c.obj)
    if not hooks:
        return
    for stage in HOOK_NAMES:
        entries = c.optional(hooks, stage, "hooks", c.array)
        for i, entry in enumerate(entries or ()):
            path = f"hooks.{stage}[{i}]"
            hook = c.obj(entry, path)
            c.abspath(c.required(hook, "path", path), f"{path}.path")
            c.optional(hook, "args", path, c.strings)
            env = c.optional(hook, "env", path, c.strings)
            _check_env(env, f"{path}.env")
            timeout = hook.get("timeout")
            if timeout is not None:
                seconds = c.integer(timeout, f"{path}.timeout")
                if seconds <= 0:
                    raise ValidationError(f"{path}.timeout", f"must be a positive number of seconds, got {seconds}")


def check_annotations(doc: dict[str, object], bundle: str | None) -> None:
    annotations = c.optional(doc, "annotations", "", c.obj)
    for name, value in (annotations or {}).items():
        if not name:
            raise ValidationError("annotations", "must not have an empty key")
        c.string(value, c.item("annotations", name))


CONFIG_CHECKS: tuple[Check, ...] = (
    check_oci_version, check_root, check_mounts, check_process, check_names, check_hooks, check_annotations,
)


# --- process ----------------------------------------------------------------------------------


def _check_env(env: list[str] | None, path: str) -> None:
    for i, entry in enumerate(env or ()):
        name, eq, _ = entry.partition("=")
        if not eq:
            raise ValidationError(f"{path}[{i}]", f"{c.show(entry)} must have the form NAME=value")
        if not name:
            raise ValidationError(f"{path}[{i}]", f"{c.show(entry)} has an empty variable name")


def check_process_args(doc: dict[str, object], path: str) -> None:
    args = c.strings(c.required(doc, "args", path), f"{path}.args")
    if not args:
        raise ValidationError(f"{path}.args", "must not be empty")
    if not args[0]:
        raise ValidationError(f"{path}.args[0]", "must name the program to run, got \"\"")
    env = c.optional(doc, "env", path, c.strings)
    _check_env(env, f"{path}.env")
    c.abspath(c.required(doc, "cwd", path), f"{path}.cwd")


def check_process_terminal(doc: dict[str, object], path: str) -> None:
    terminal = c.optional(doc, "terminal", path, c.boolean)
    size = c.optional(doc, "consoleSize", path, c.obj)
    if size is None:
        return
    p = f"{path}.consoleSize"
    if not terminal:
        raise ValidationError(p, f"is only allowed when {path}.terminal is true")
    for name in ("height", "width"):
        c.uint32(c.required(size, name, p), f"{p}.{name}")


def check_process_user(doc: dict[str, object], path: str) -> None:
    user = c.optional(doc, "user", path, c.obj)
    if user is None:
        return
    p = f"{path}.user"
    c.uint32(c.required(user, "uid", p), f"{p}.uid")
    c.uint32(c.required(user, "gid", p), f"{p}.gid")
    c.optional(user, "umask", p, lambda v, q: c.integer(v, q, 0, 0o777))
    for i, gid in enumerate(c.optional(user, "additionalGids", p, c.array) or ()):
        c.uint32(gid, f"{p}.additionalGids[{i}]")
    c.optional(user, "username", p, c.string)


def check_process_capabilities(doc: dict[str, object], path: str) -> None:
    caps = c.optional(doc, "capabilities", path, c.obj)
    if caps is None:
        return
    from pallet._linux.caps import CAP_NUMBERS

    p = f"{path}.capabilities"
    for name in _CAP_SETS:
        for i, cap in enumerate(c.optional(caps, name, p, c.strings) or ()):
            full = cap if cap.startswith("CAP_") else "CAP_" + cap
            if full not in CAP_NUMBERS:
                raise ValidationError(
                    f"{p}.{name}[{i}]",
                    f"{c.show(cap)} is not a capability (like CAP_KILL; `pallet-runtime features` lists them)",
                )


def check_process_rlimits(doc: dict[str, object], path: str) -> None:
    seen: dict[str, int] = {}
    for i, entry in enumerate(c.optional(doc, "rlimits", path, c.array) or ()):
        p = f"{path}.rlimits[{i}]"
        rlimit = c.obj(entry, p)
        kind = c.string(c.required(rlimit, "type", p), f"{p}.type")
        if kind not in RLIMIT_TYPES:
            raise ValidationError(
                f"{p}.type", f"{c.show(kind)} is not an rlimit (allowed: {', '.join(sorted(RLIMIT_TYPES))})"
            )
        if kind in seen:
            raise ValidationError(f"{p}.type", f"{c.show(kind)} is given twice (first at {path}.rlimits[{seen[kind]}])")
        seen[kind] = i
        soft = c.uint64(c.required(rlimit, "soft", p), f"{p}.soft")
        hard = c.uint64(c.required(rlimit, "hard", p), f"{p}.hard")
        if soft > hard:
            raise ValidationError(p, f"soft limit {soft} is greater than the hard limit {hard} ({kind})")


def check_process_security(doc: dict[str, object], path: str) -> None:
    c.optional(doc, "noNewPrivileges", path, c.boolean)
    c.optional(doc, "apparmorProfile", path, c.string)
    c.optional(doc, "selinuxLabel", path, c.string)
    c.optional(doc, "oomScoreAdj", path, lambda v, q: c.integer(v, q, -1000, 1000))


def check_process_scheduling(doc: dict[str, object], path: str) -> None:
    prio = c.optional(doc, "ioPriority", path, c.obj)
    if prio is not None:
        p = f"{path}.ioPriority"
        c.one_of(c.required(prio, "class", p), f"{p}.class", IOPRIO_CLASSES, "an I/O priority class")
        c.optional(prio, "priority", p, lambda v, q: c.integer(v, q, 0, 7))
    sched = c.optional(doc, "scheduler", path, c.obj)
    if sched is not None:
        p = f"{path}.scheduler"
        c.one_of(c.required(sched, "policy", p), f"{p}.policy", SCHED_POLICIES, "a scheduling policy")
        c.optional(sched, "nice", p, lambda v, q: c.integer(v, q, -20, 19))
        c.optional(sched, "priority", p, lambda v, q: c.integer(v, q, -(1 << 31), (1 << 31) - 1))
        for i, flag in enumerate(c.optional(sched, "flags", p, c.array) or ()):
            c.one_of(flag, f"{p}.flags[{i}]", SCHED_FLAGS, "a scheduler flag")
        for name in ("runtime", "deadline", "period"):
            c.optional(sched, name, p, c.uint64)
    affinity = c.optional(doc, "execCPUAffinity", path, c.obj)
    if affinity is not None:
        for name in ("initial", "final"):
            c.optional(affinity, name, f"{path}.execCPUAffinity", c.cpu_list)


PROCESS_CHECKS: tuple[Callable[[dict[str, object], str], None], ...] = (
    check_process_args,
    check_process_terminal,
    check_process_user,
    check_process_capabilities,
    check_process_rlimits,
    check_process_security,
    check_process_scheduling,
)
