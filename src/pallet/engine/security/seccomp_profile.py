"""docker seccomp profiles (``--security-opt seccomp=FILE``) -> OCI linux.seccomp.

A profile holds defaultAction, defaultErrnoRet, either architectures or an archMap (the native
architecture and its sub-architectures), flags, listenerPath/listenerMetadata, and syscalls: rules
with names (or a single legacy name), an action, errnoRet, args, and includes/excludes conditions on
the container's capabilities (all included ones needed, any excluded one rules out), the machine's
architecture and the kernel version (minKernel).  The result is the profile resolved for one
container: a plain linux.seccomp that the runtime compiles.
"""

from __future__ import annotations

import os

from pallet.errors import ConfigError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable

# uname -m -> (libseccomp architecture, names a profile's arches lists may use for it)
MACHINES: dict[str, tuple[str, tuple[str, ...]]] = {
    "x86_64": ("SCMP_ARCH_X86_64", ("amd64", "x86_64")),
    "i686": ("SCMP_ARCH_X86", ("386", "x86", "i386")),
    "aarch64": ("SCMP_ARCH_AARCH64", ("arm64", "aarch64")),
    "armv7l": ("SCMP_ARCH_ARM", ("arm",)),
    "ppc64le": ("SCMP_ARCH_PPC64LE", ("ppc64le",)),
    "s390x": ("SCMP_ARCH_S390X", ("s390x",)),
    "riscv64": ("SCMP_ARCH_RISCV64", ("riscv64",)),
    "mips64": ("SCMP_ARCH_MIPS64", ("mips64",)),
}
ACTIONS = (
    "SCMP_ACT_KILL", "SCMP_ACT_KILL_THREAD", "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_TRAP", "SCMP_ACT_ERRNO",
    "SCMP_ACT_TRACE", "SCMP_ACT_ALLOW", "SCMP_ACT_LOG", "SCMP_ACT_NOTIFY",
)
OPERATORS = ("SCMP_CMP_NE", "SCMP_CMP_LT", "SCMP_CMP_LE", "SCMP_CMP_EQ", "SCMP_CMP_GE", "SCMP_CMP_GT",
             "SCMP_CMP_MASKED_EQ")
_CONDITION_KEYS = ("caps", "arches", "minKernel")


def kernel_version(release: str | None = None) -> tuple[int, ...]:
    """``6.18.44-fc`` -> (6, 18, 44)."""
    release = release or os.uname().release
    parts = []
    for piece in release.split("-")[0].split("."):
        digits = ""
        for ch in piece:
            if not ch.isdigit():
                break
            digits += ch
        if not digits:
            break
        parts.append(int(digits))
    return tuple(parts)


def load_profile_file(path: str) -> dict[str, object]:
    """Read a docker seccomp profile; a ConfigError names the file and what is wrong with it."""
    import json

    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        raise ConfigError(f"seccomp profile {path}: cannot be read: {e.strerror}") from None
    try:
        doc = json.loads(data)
    except ValueError as e:
        raise ConfigError(f"seccomp profile {path}: not valid JSON: {e}") from None
    if not isinstance(doc, dict):
        raise ConfigError(f"seccomp profile {path}: must be a JSON object with defaultAction and syscalls")
    return doc


class _Where:
    def __init__(self, source: str) -> None:
        self.source = source

    def error(self, path: str, message: str) -> ConfigError:
        return ConfigError(f"seccomp profile {self.source}: {path} {message}")


def _strings(value: object, path: str, where: _Where) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise where.error(path, f"must be a list of strings, got {value!r}")
    return value


def _version(value: object, path: str, where: _Where) -> tuple[int, ...]:
    if not isinstance(value, str) or not value or not all(p.isdigit() for p in value.split(".")):
        raise where.error(path, f"{value!r} is not a kernel version like '4.8'")
    return tuple(int(p) for p in value.split("."))


def _matches(cond: object, path: str, caps: set[str], arch_names: tuple[str, ...], kernel: tuple[int, ...],
             where: _Where, include: bool) -> bool:
    """includes: every condition holds; excludes: any condition holds."""
    if cond is None:
        return include
    if not isinstance(cond, dict):
        raise where.error(path, f"must be an object with caps, arches, minKernel, got {cond!r}")
    for key in cond:
        if key not in _CONDITION_KEYS:
            raise where.error(f"{path}.{key}", f"is not a condition (allowed: {', '.join(_CONDITION_KEYS)})")
    results = []
    want_caps = _strings(cond.get("caps"), f"{path}.caps", where)
    if want_caps:
        if include:
            results.append(all(c in caps for c in want_caps))
        else:
            results.append(any(c in caps for c in want_caps))
    arches = _strings(cond.get("arches"), f"{path}.arches", where)
    if arches:
        results.append(any(a in arch_names for a in arches))
    if cond.get("minKernel"):
        results.append(kernel >= _version(cond["minKernel"], f"{path}.minKernel", where))
    return all(results) if include else any(results)


def _architectures(profile: dict[str, object], native: str, where: _Where) -> list[str]:
    direct = _strings(profile.get("architectures"), "architectures", where)
    arch_map = profile.get("archMap")
    if direct and arch_map:
        raise where.error("architectures", "and archMap are both set: use one of them")
    if not arch_map:
        return direct
    if not isinstance(arch_map, list):
        raise where.error("archMap", f"must be a list of {{architecture, subArchitectures}}, got {arch_map!r}")
    out: list[str] = []
    for i, entry in enumerate(arch_map):
        if not isinstance(entry, dict) or not isinstance(entry.get("architecture"), str):
            raise where.error(f"archMap[{i}]", f"must be an object with an architecture name, got {entry!r}")
        if entry["architecture"] == native:
            out.append(native)
            out += _strings(entry.get("subArchitectures"), f"archMap[{i}].subArchitectures", where)
    return out


def _check_arch_names(names: list[str], where: _Where) -> None:
    from pallet._linux import seccomp as lib

    for i, name in enumerate(names):
        if not name.startswith("SCMP_ARCH_") or not lib.arch_resolve(name[len("SCMP_ARCH_"):].lower()):
            raise where.error(f"architectures[{i}]", f"{name!r} is not a seccomp architecture (SCMP_ARCH_X86_64, ...)")


def _rule(entry: object, i: int, where: _Where) -> dict[str, object]:
    path = f"syscalls[{i}]"
    if not isinstance(entry, dict):
        raise where.error(path, f"must be an object with names and action, got {entry!r}")
    names = _strings(entry.get("names"), f"{path}.names", where)
    single = entry.get("name")
    if single is not None:
        if names:
            raise where.error(path, "has both name and names: use names")
        if not isinstance(single, str):
            raise where.error(f"{path}.name", f"must be a string, got {single!r}")
        names = [single]
    if not names:
        raise where.error(f"{path}.names", "must list at least one syscall")
    for j, name in enumerate(names):
        if not name.isascii() or not name.replace("_", "a").isalnum():  # letters, digits and _ only
            raise where.error(f"{path}.names[{j}]", f"{name!r} is not a syscall name (letters, digits and _)")
    action = entry.get("action")
    if action not in ACTIONS:
        raise where.error(f"{path}.action", f"{action!r} is not a seccomp action (allowed: {', '.join(ACTIONS)})")
    rule: dict[str, object] = {"names": list(names), "action": action}
    if entry.get("errnoRet") is not None:
        rule["errnoRet"] = entry["errnoRet"]
    args = entry.get("args") or []
    if not isinstance(args, list):
        raise where.error(f"{path}.args", f"must be a list, got {args!r}")
    out_args = []
    for k, arg in enumerate(args):
        if not isinstance(arg, dict):
            raise where.error(f"{path}.args[{k}]", f"must be an object with index, value, op, got {arg!r}")
        if arg.get("op") not in OPERATORS:
            raise where.error(f"{path}.args[{k}].op",
                              f"{arg.get('op')!r} is not a comparison operator (allowed: {', '.join(OPERATORS)})")
        out_args.append({"index": arg.get("index"), "value": arg.get("value", 0),
                         "valueTwo": arg.get("valueTwo", 0), "op": arg["op"]})
    if out_args:
        rule["args"] = out_args
    return rule


def profile_to_oci(
    profile: dict[str, object], caps: Iterable[str], *, machine: str | None = None,
    kernel: tuple[int, ...] | None = None, source: str = "<default>",
) -> dict[str, object]:
    """The linux.seccomp of a container with capabilities ``caps`` on this machine (or ``machine``,
    ``kernel``), from a docker profile; a ConfigError names ``source`` and the field at fault."""
    where = _Where(source)
    machine = machine or os.uname().machine
    native, arch_names = MACHINES.get(machine, (f"SCMP_ARCH_{machine.upper()}", (machine,)))
    kernel = kernel if kernel is not None else kernel_version()
    have = set(caps)
    default = profile.get("defaultAction")
    if default not in ACTIONS:
        raise where.error("defaultAction", f"{default!r} is not a seccomp action (allowed: {', '.join(ACTIONS)})")
    out: dict[str, object] = {"defaultAction": default}
    if profile.get("defaultErrnoRet") is not None:
        out["defaultErrnoRet"] = profile["defaultErrnoRet"]
    arches = _architectures(profile, native, where)
    _check_arch_names(arches, where)
    if arches:
        out["architectures"] = arches
    for key in ("flags",):
        if profile.get(key):
            out[key] = _strings(profile[key], key, where)
    for key in ("listenerPath", "listenerMetadata"):
        if profile.get(key):
            out[key] = profile[key]
    syscalls = profile.get("syscalls") or []
    if not isinstance(syscalls, list):
        raise where.error("syscalls", f"must be a list, got {type(syscalls).__name__}")
    rules = []
    for i, entry in enumerate(syscalls):
        rule = _rule(entry, i, where)
        assert isinstance(entry, dict)
        if not _matches(entry.get("includes"), f"syscalls[{i}].includes", have, arch_names, kernel, where, True):
            continue
        if _matches(entry.get("excludes"), f"syscalls[{i}].excludes", have, arch_names, kernel, where, False):
            continue
        rules.append(rule)
    out["syscalls"] = rules
    return out


def default_seccomp(caps: Iterable[str], *, machine: str | None = None, kernel: tuple[int, ...] | None = None,
                    cache_dir: str = "") -> dict[str, object]:
    """pallet's default profile resolved for a container with ``caps``; names this host's libseccomp
    does not know are left out (the runtime would skip them with a warning on every start).

    With ``cache_dir`` (for this host: no ``machine``/``kernel``), the result is kept there in a file
    named by everything it depends on (the capabilities, the machine, the kernel release,
    libseccomp's version, the profile's and this module's source files): resolving the profile
    costs ~1.5 ms of every ``run``, reading it back ~0.1 ms."""
    key = ""
    if cache_dir and machine is None and kernel is None:
        caps = sorted(caps)
        key = _default_cache_key(caps)
        cached = _cache_read(cache_dir, key) if key else None
        if cached is not None:
            return cached
    from pallet._linux.seccomp import NR_SCMP_ERROR, syscall_resolve
    from pallet.engine.security.default_profile import default_profile

    out = profile_to_oci(default_profile(), caps, machine=machine, kernel=kernel, source="<pallet default>")
    rules = out["syscalls"]
    assert isinstance(rules, list)
    for rule in rules:
        rule["names"] = [n for n in rule["names"] if syscall_resolve(n) != NR_SCMP_ERROR]
    out["syscalls"] = [r for r in rules if r["names"]]
    if key:
        _cache_write(cache_dir, key, out)
    return out


def _default_cache_key(caps: list[str]) -> str:
    """The cache file's name for the default profile resolved for ``caps`` on this host; "" if the
    sources cannot be found (no cache then)."""
    try:
        from _sha256 import sha256
    except ImportError:  # Python 3.12+ names the module _sha2
        from _sha2 import sha256  # type: ignore[no-redef,unused-ignore]

    from pallet._linux.seccomp import version

    here = os.path.dirname(os.path.abspath(__file__))
    parts = [",".join(caps), os.uname().machine, os.uname().release, repr(version())]
    for name in ("default_profile.py", "seccomp_profile.py"):
        try:
            st = os.stat(os.path.join(here, name))
        except OSError:
            return ""
        parts.append(f"{name}:{st.st_size}:{st.st_mtime_ns}")
    return str(sha256("\0".join(parts).encode()).hexdigest())


def _cache_read(cache_dir: str, key: str) -> dict[str, object] | None:
    from pallet import fastjson

    try:
        with open(os.path.join(cache_dir, f"seccomp-default-{key}.json"), "rb") as f:
            doc = fastjson.loads(f.read())
    except (OSError, ValueError):
        return None
    if not isinstance(doc, dict) or not isinstance(doc.get("syscalls"), list):
        return None
    out: dict[str, object] = doc
    return out


def _cache_write(cache_dir: str, key: str, doc: dict[str, object]) -> None:
    """Best effort (a cache): written through a temporary file and renamed, errors ignored."""
    from pallet import fastjson
    from pallet.atomicfile import write_atomic

    try:
        os.makedirs(cache_dir, mode=0o700, exist_ok=True)
        write_atomic(os.path.join(cache_dir, f"seccomp-default-{key}.json"), fastjson.dumps(doc), mode=0o600)
    except OSError:
        pass
