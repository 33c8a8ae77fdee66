"""Checks of ``linux.seccomp``: actions, architectures, flags, syscall rules and their arguments."""

from __future__ import annotations

from pallet.errors import ValidationError
from pallet.oci import _check as c
from pallet.oci.names import SECCOMP_ACTIONS, SECCOMP_ARCHS, SECCOMP_FLAGS, SECCOMP_OPERATORS

_NOTIFY = "SCMP_ACT_NOTIFY"
_MAX_ARGS = 6


def _action(value: object, path: str) -> str:
    return c.one_of(value, path, SECCOMP_ACTIONS, "a seccomp action")


def validate_seccomp(value: object, path: str) -> None:
    seccomp = c.obj(value, path)
    default = _action(c.required(seccomp, "defaultAction", path), f"{path}.defaultAction")
    if default == _NOTIFY:
        raise ValidationError(f"{path}.defaultAction", f"must not be {_NOTIFY} (the runtime itself would be stopped)")
    c.optional(seccomp, "defaultErrnoRet", path, c.uint32)
    for i, arch in enumerate(c.optional(seccomp, "architectures", path, c.array) or ()):
        c.one_of(arch, f"{path}.architectures[{i}]", SECCOMP_ARCHS, "a seccomp architecture")
    for i, flag in enumerate(c.optional(seccomp, "flags", path, c.array) or ()):
        c.one_of(flag, f"{path}.flags[{i}]", SECCOMP_FLAGS, "a seccomp filter flag")
    listener = c.optional(seccomp, "listenerPath", path, c.abspath)
    c.optional(seccomp, "listenerMetadata", path, c.string)
    notify_at = ""
    for i, entry in enumerate(c.optional(seccomp, "syscalls", path, c.array) or ()):
        p = f"{path}.syscalls[{i}]"
        rule = c.obj(entry, p)
        names = c.strings(c.required(rule, "names", p), f"{p}.names", nonempty_items=True)
        if not names:
            raise ValidationError(f"{p}.names", "must not be empty")
        if _action(c.required(rule, "action", p), f"{p}.action") == _NOTIFY:
            notify_at = notify_at or f"{p}.action"
        c.optional(rule, "errnoRet", p, c.uint32)
        for j, arg_entry in enumerate(c.optional(rule, "args", p, c.array) or ()):
            q = f"{p}.args[{j}]"
            arg = c.obj(arg_entry, q)
            c.integer(c.required(arg, "index", q), f"{q}.index", 0, _MAX_ARGS - 1)
            c.uint64(c.required(arg, "value", q), f"{q}.value")
            c.optional(arg, "valueTwo", q, c.uint64)
            c.one_of(c.required(arg, "op", q), f"{q}.op", SECCOMP_OPERATORS, "a seccomp comparison")
    if notify_at and listener is None:
        raise ValidationError(f"{path}.listenerPath", f"is required when a rule uses {_NOTIFY} ({notify_at})")
