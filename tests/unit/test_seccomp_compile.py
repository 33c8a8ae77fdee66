"""compile_filter: validation of linux.seccomp (errors name the field) and what libseccomp builds."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from pallet.errors import ValidationError
from pallet.runtime.seccomp import CompiledFilter, compile_filter


def compile_ok(seccomp: dict[str, Any], warnings: list[str] | None = None) -> CompiledFilter:
    out = compile_filter(seccomp, warn=(warnings.append if warnings is not None else lambda m: None))
    assert out is not None
    return out


def test_none_means_no_filter() -> None:
    assert compile_filter(None) is None


def test_a_rule_makes_a_longer_program() -> None:
    empty = compile_ok({"defaultAction": "SCMP_ACT_ALLOW"})
    one = compile_ok({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_ERRNO"}]})
    assert len(empty.program) % 8 == 0 and one.instructions > empty.instructions
    assert not one.notify and one.flags == 0


def test_rules_equal_to_the_default_are_dropped() -> None:
    base = compile_ok({"defaultAction": "SCMP_ACT_ERRNO"})
    same = compile_ok({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_ERRNO"}]})
    assert same.program == base.program


def test_more_architectures_more_code() -> None:
    native = compile_ok({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW"}]})
    multi = compile_ok({"defaultAction": "SCMP_ACT_ERRNO", "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
                        "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW"}]})
    assert multi.instructions > native.instructions


def test_flags_are_passed_on() -> None:
    out = compile_ok({"defaultAction": "SCMP_ACT_ALLOW", "flags": ["SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW"]})
    assert out.flags == 2 | 4


def test_unknown_syscall_names_are_skipped_with_a_warning() -> None:
    warnings: list[str] = []
    out = compile_ok({"defaultAction": "SCMP_ACT_ALLOW",
                      "syscalls": [{"names": ["mkdir", "no_such_call"], "action": "SCMP_ACT_ERRNO"}]}, warnings)
    assert out.skipped == ("no_such_call",)
    assert len(warnings) == 1 and "no_such_call" in warnings[0]


def test_notify_needs_a_listener_path_and_sets_the_listener_flag() -> None:
    rule = [{"names": ["mkdir"], "action": "SCMP_ACT_NOTIFY"}]
    with pytest.raises(ValidationError, match=r"linux.seccomp.listenerPath must be set"):
        compile_filter({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": rule})
    out = compile_ok({"defaultAction": "SCMP_ACT_ALLOW", "listenerPath": "/run/agent.sock", "syscalls": rule,
                      "flags": ["SECCOMP_FILTER_FLAG_TSYNC"]})
    assert out.notify and out.flags & 8 and out.flags & 16  # NEW_LISTENER, and TSYNC_ESRCH beside TSYNC
    assert out.listener_path == "/run/agent.sock"


@pytest.mark.parametrize(
    ("seccomp", "path", "words"),
    [
        ({"defaultAction": "SCMP_ACT_BLOCK"}, "linux.seccomp.defaultAction", "'SCMP_ACT_BLOCK' is not a seccomp action"),
        ({}, "linux.seccomp.defaultAction", "None is not a seccomp action"),
        ({"defaultAction": "SCMP_ACT_NOTIFY"}, "linux.seccomp.defaultAction", "cannot be the default"),
        ({"defaultAction": "SCMP_ACT_ALLOW", "defaultErrnoRet": 5}, "linux.seccomp.defaultErrnoRet", "only allowed with"),
        ({"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": -1}, "linux.seccomp.defaultErrnoRet", "not an errno"),
        ({"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_Z80"]}, "linux.seccomp.architectures[0]",
         "'SCMP_ARCH_Z80' is not an architecture"),
        ({"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["x86_64"]}, "linux.seccomp.architectures[0]", "x86_64"),
        ({"defaultAction": "SCMP_ACT_ALLOW", "flags": ["SECCOMP_FILTER_FLAG_FAST"]}, "linux.seccomp.flags[0]", "not a seccomp filter flag"),
        ({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": {"names": []}}, "linux.seccomp.syscalls", "must be a list"),
        ({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": [], "action": "SCMP_ACT_ERRNO"}]},
         "linux.seccomp.syscalls[0].names", "at least one"),
        ({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["mk dir"], "action": "SCMP_ACT_ERRNO"}]},
         "linux.seccomp.syscalls[0].names[0]", "'mk dir' is not a syscall name"),
        ({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["mkdir"], "action": "deny"}]},
         "linux.seccomp.syscalls[0].action", "'deny' is not a seccomp action"),
        ({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_ERRNO",
                                                           "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_LIKE"}]}]},
         "linux.seccomp.syscalls[0].args[0].op", "'SCMP_CMP_LIKE' is not a comparison operator"),
        ({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_ERRNO",
                                                           "args": [{"index": 6, "value": 1, "op": "SCMP_CMP_EQ"}]}]},
         "linux.seccomp.syscalls[0].args[0].index", "6 is not a syscall argument index"),
        ({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_ERRNO",
                                                           "args": [{"index": 0, "value": -1, "op": "SCMP_CMP_EQ"}]}]},
         "linux.seccomp.syscalls[0].args[0].value", "not an unsigned 64-bit"),
        ({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["mkdir"], "action": "SCMP_ACT_KILL", "errnoRet": 1}]},
         "linux.seccomp.syscalls[0].errnoRet", "only allowed with"),
        ({"defaultAction": "SCMP_ACT_ALLOW", "listenerPath": "/a", "syscalls": [{"names": ["write"], "action": "SCMP_ACT_NOTIFY"}]},
         "linux.seccomp.syscalls[0].names", "'write' cannot use SCMP_ACT_NOTIFY"),
    ],
)
def test_bad_input_names_the_field(seccomp: dict[str, Any], path: str, words: str) -> None:
    with pytest.raises(ValidationError) as info:
        compile_filter(seccomp, warn=lambda m: None)
    assert info.value.path == path
    assert words in str(info.value)



def test_cache_returns_the_same_program_and_survives_a_damaged_file(tmp_path: Path) -> None:
    seccomp = {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["mkdir", "no_such_call"], "action": "SCMP_ACT_ERRNO"}]}
    cache = tmp_path / "cache"
    warnings: list[str] = []
    first = compile_filter(seccomp, warn=warnings.append, cache_dir=str(cache))
    files = list(cache.iterdir())
    assert first is not None and len(files) == 1
    again = compile_filter(seccomp, warn=warnings.append, cache_dir=str(cache))
    assert again is not None and again.program == first.program and again.skipped == ("no_such_call",)
    assert len(warnings) == 2  # the skipped name is reported on a cache hit too
    files[0].write_bytes(b"pallet-seccomp-1\n{}\nxyz")
    repaired = compile_filter(seccomp, warn=warnings.append, cache_dir=str(cache))
    assert repaired is not None and repaired.program == first.program
    other = compile_filter({**seccomp, "defaultAction": "SCMP_ACT_LOG"}, warn=warnings.append, cache_dir=str(cache))
    assert other is not None and other.program != first.program and len(list(cache.iterdir())) == 2
