"""Cgroup paths, conversions, device rules, and the eBPF device filter run by a small interpreter."""

from __future__ import annotations

import struct

import pytest

from pallet._linux.bpf import device_program
from pallet.errors import ConfigError
from pallet.runtime.cgroups import DEFAULT_DEVICE_RULES, cgroup_path, container_device_rules
from pallet.runtime.cgroups.convert import (
    blkio_to_io_weight,
    format_list,
    page_size_name,
    parse_list,
    shares_to_weight,
    swap_v2,
)
from pallet.runtime.cgroups.devices import parse_rules, v1_writes


def test_cgroup_path_forms() -> None:
    assert cgroup_path(None, "abc") == "/pallet/abc"
    assert cgroup_path("", "abc") == "/pallet/abc"
    assert cgroup_path("/a/b", "x") == "/a/b"
    assert cgroup_path("a/b", "x") == "/a/b"
    assert cgroup_path("//a/../../b/", "x") == "/b"
    with pytest.raises(ConfigError, match="systemd form"):
        cgroup_path("system.slice:pallet:abc", "abc")
    with pytest.raises(ConfigError, match="root cgroup"):
        cgroup_path("/..", "abc")
    with pytest.raises(ConfigError, match="cannot name a cgroup"):
        cgroup_path(None, "a/b")


def test_conversions() -> None:
    assert shares_to_weight(2) == 1
    assert shares_to_weight(1024) == 39
    assert shares_to_weight(262144) == 10000
    assert blkio_to_io_weight(10) == 1
    assert blkio_to_io_weight(1000) == 10000
    assert swap_v2(None, 100) is None
    assert swap_v2(-1, 100) == -1
    assert swap_v2(300, 100) == 200
    with pytest.raises(ConfigError, match=r"below memory\.limit"):
        swap_v2(50, 100)
    with pytest.raises(ConfigError, match=r"needs memory\.limit"):
        swap_v2(50, None)
    assert page_size_name(2 << 20) == "2MB"
    assert page_size_name(1 << 30) == "1GB"
    assert parse_list("0-2,5, 7") == {0, 1, 2, 5, 7}
    assert format_list({0, 1, 2, 5, 7, 8}) == "0-2,5,7-8"
    for bad in ("a", "3-1", "-1"):
        with pytest.raises(ValueError):
            parse_list(bad)


def test_parse_rules_errors() -> None:
    with pytest.raises(ConfigError, match=r"devices\[0\]: 'allow'"):
        parse_rules([{"type": "c"}])
    with pytest.raises(ConfigError, match=r"devices\[1\].type 'x'"):
        parse_rules([{"allow": True}, {"allow": True, "type": "x"}])
    with pytest.raises(ConfigError, match=r"access 'rx'"):
        parse_rules([{"allow": True, "access": "rx"}])
    with pytest.raises(ConfigError, match=r"major -5"):
        parse_rules([{"allow": True, "major": -5}])
    assert parse_rules([{"allow": False}]) == [(False, "a", -1, -1, "rwm")]
    assert parse_rules([{"allow": True, "type": "c", "major": 1, "minor": 3, "access": "wr"}]) == [
        (True, "c", 1, 3, "rw")
    ]


def test_container_rules_order_and_v1_writes() -> None:
    rules = container_device_rules([{"allow": True, "type": "b", "major": 8, "minor": 0, "access": "r"}])
    assert rules[0] == {"allow": False, "type": "a", "access": "rwm"}
    assert rules[1]["major"] == 8
    assert rules[2:] == DEFAULT_DEVICE_RULES[1:]
    writes = v1_writes(parse_rules(rules))
    assert writes[0] == ("devices.deny", "a")
    assert ("devices.allow", "b 8:0 r") in writes
    assert ("devices.allow", "c 136:* rwm") in writes
    # Rules before the last allow-all/deny-all cannot decide anything and are dropped.
    assert v1_writes(parse_rules([{"allow": True, "type": "c", "major": 1, "minor": 3}, {"allow": False}])) == [
        ("devices.deny", "a")
    ]
    # A narrower "a" rule must not reach the kernel as "a" (which means everything).
    assert v1_writes([(True, "a", 4, -1, "r")]) == [("devices.allow", "c 4:* r"), ("devices.allow", "b 4:* r")]


# --- an interpreter for the few eBPF instructions the device filter uses ------------------------

def run_bpf(prog: bytes, dev_type: int, access: int, major: int, minor: int) -> int:
    regs = [0] * 11
    ctx = struct.pack("<III", (access << 16) | dev_type, major, minor)
    regs[1] = -1  # pointer to ctx (only used as a load base)
    pc = 0
    n = len(prog) // 8
    steps = 0
    while pc < n:
        steps += 1
        assert steps < 10000
        op, regbyte, off, imm = struct.unpack_from("<BBhi", prog, pc * 8)
        dst, src = regbyte & 0xF, regbyte >> 4
        pc += 1
        if op == 0x61:
            assert regs[src] == -1, "loads only from the context"
            regs[dst] = struct.unpack_from("<I", ctx, off)[0]
        elif op == 0x57:
            regs[dst] &= imm & 0xFFFFFFFFFFFFFFFF
        elif op == 0x77:
            regs[dst] >>= imm
        elif op == 0xB7:
            regs[dst] = imm
        elif op == 0xBF:
            regs[dst] = regs[src]
        elif op == 0x55:
            if regs[dst] != imm:
                pc += off
        elif op == 0x5D:
            if regs[dst] != regs[src]:
                pc += off
        elif op == 0x95:
            return regs[0]
        else:
            raise AssertionError(f"unexpected opcode {op:#x}")
    raise AssertionError("fell off the end of the program")


CHAR, BLOCK = 2, 1
MKNOD, READ, WRITE = 1, 2, 4


def test_device_program_defaults() -> None:
    prog = device_program(parse_rules(container_device_rules(None)))
    assert len(prog) % 8 == 0
    assert run_bpf(prog, CHAR, READ | WRITE, 1, 3) == 1  # /dev/null
    assert run_bpf(prog, CHAR, READ, 1, 9) == 1  # /dev/urandom
    assert run_bpf(prog, CHAR, READ | WRITE, 136, 7) == 1  # a pts
    assert run_bpf(prog, BLOCK, READ, 254, 0) == 0  # the root disk
    assert run_bpf(prog, CHAR, READ, 1, 1) == 0  # /dev/mem
    assert run_bpf(prog, BLOCK, MKNOD, 254, 0) == 1  # mknod of anything
    assert run_bpf(prog, CHAR, MKNOD | READ, 1, 1) == 0  # mknod plus read is more than "m"


def test_device_program_last_rule_wins() -> None:
    rules = parse_rules([
        {"allow": True},
        {"allow": False, "type": "c", "major": 1, "access": "w"},
        {"allow": True, "type": "c", "major": 1, "minor": 3, "access": "rw"},
    ])
    prog = device_program(rules)
    assert run_bpf(prog, CHAR, WRITE, 1, 5) == 0  # denied by the 1:* w rule
    assert run_bpf(prog, CHAR, READ, 1, 5) == 1  # allow-all
    assert run_bpf(prog, CHAR, WRITE, 1, 3) == 1  # the later 1:3 allow wins
    assert run_bpf(prog, BLOCK, WRITE, 1, 5) == 1  # the deny is for char devices only
    assert run_bpf(device_program([]), CHAR, READ, 1, 3) == 0  # no rule: deny
