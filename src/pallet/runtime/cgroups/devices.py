"""Device cgroup rules: the runtime's defaults, validation, and their v1 and v2 (eBPF) forms."""

from __future__ import annotations

from pallet.errors import ConfigError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping
    from typing import Any

# A rule: (allow, type "a"/"c"/"b", major (-1 any), minor (-1 any), access: a subset of "rwm").
Rule = tuple[bool, str, int, int, str]


def _rule(allow: bool, typ: str, major: int | None, minor: int | None, access: str) -> dict[str, object]:
    out: dict[str, object] = {"allow": allow, "type": typ, "access": access}
    if major is not None:
        out["major"] = major
    if minor is not None:
        out["minor"] = minor
    return out


# What every container gets (linux.resources.devices form): deny everything, then allow mknod of
# any node, and the standard character devices.  The spec's own rules go between the deny-all and
# the allows (see container_device_rules), as runc orders them.
DEFAULT_DEVICE_RULES: list[dict[str, object]] = [
    _rule(False, "a", None, None, "rwm"),
    _rule(True, "c", None, None, "m"),
    _rule(True, "b", None, None, "m"),
    _rule(True, "c", 1, 3, "rwm"),  # /dev/null
    _rule(True, "c", 1, 5, "rwm"),  # /dev/zero
    _rule(True, "c", 1, 7, "rwm"),  # /dev/full
    _rule(True, "c", 1, 8, "rwm"),  # /dev/random
    _rule(True, "c", 1, 9, "rwm"),  # /dev/urandom
    _rule(True, "c", 5, 0, "rwm"),  # /dev/tty
    _rule(True, "c", 5, 1, "rwm"),  # /dev/console
    _rule(True, "c", 5, 2, "rwm"),  # /dev/ptmx
    _rule(True, "c", 136, None, "rwm"),  # /dev/pts/*
]


def container_device_rules(spec_rules: Iterable[Mapping[str, Any]] | None) -> list[dict[str, object]]:
    """The device rules of a container: deny all, the spec's rules, then the default allows.

    The defaults come last so that a container always has its standard devices, as with runc.
    """
    rules: list[dict[str, object]] = [dict(DEFAULT_DEVICE_RULES[0])]
    rules.extend(dict(r) for r in spec_rules or ())
    rules.extend(dict(r) for r in DEFAULT_DEVICE_RULES[1:])
    return rules


def parse_rules(rules: Iterable[Mapping[str, Any]], where: str = "linux.resources.devices") -> list[Rule]:
    """Validate OCI device rules; raise ConfigError naming the bad one."""
    out: list[Rule] = []
    for i, r in enumerate(rules):
        field = f"{where}[{i}]"
        if not isinstance(r, dict) or not isinstance(r.get("allow"), bool):
            raise ConfigError(f"{field}: 'allow' must be true or false, got {r!r}")
        typ = r.get("type") or "a"
        if typ not in ("a", "c", "b", "u"):
            raise ConfigError(f"{field}.type {typ!r} is not allowed: use 'a' (all), 'c' (char) or 'b' (block)")
        if typ == "u":
            typ = "c"  # unbuffered character device: a character device to the kernel
        nums = []
        for key in ("major", "minor"):
            v = r.get(key)
            if v is None:
                v = -1
            if not isinstance(v, int) or isinstance(v, bool) or v < -1 or v > 0xFFFFFFF:
                raise ConfigError(f"{field}.{key} {v!r} is not allowed: a device number >= 0, or -1 for any")
            nums.append(v)
        access = r.get("access") or "rwm"
        if not isinstance(access, str) or not access or any(c not in "rwm" for c in access):
            raise ConfigError(f"{field}.access {access!r} is not allowed: letters from 'rwm'")
        access = "".join(c for c in "rwm" if c in access)
        out.append((r["allow"], typ, nums[0], nums[1], access))
    return out


def v1_writes(rules: list[Rule]) -> list[tuple[str, str]]:
    """(file, value) writes to devices.allow / devices.deny that apply ``rules`` on cgroup v1.

    Rules before the last deny-all or allow-all can never decide: start from it.
    """
    start = 0
    for i, (_allow, typ, major, minor, access) in enumerate(rules):
        if typ == "a" and major < 0 and minor < 0 and access == "rwm":
            start = i
    out: list[tuple[str, str]] = []
    for allow, typ, major, minor, access in rules[start:]:
        name = "devices.allow" if allow else "devices.deny"
        if typ == "a" and major < 0 and minor < 0 and access == "rwm":
            out.append((name, "a"))
            continue
        maj = "*" if major < 0 else str(major)
        mnr = "*" if minor < 0 else str(minor)
        # The kernel reads any "a ..." line as all devices, all access: spell a narrower one out.
        for t in ("c", "b") if typ == "a" else (typ,):
            out.append((name, f"{t} {maj}:{mnr} {access}"))
    return out
