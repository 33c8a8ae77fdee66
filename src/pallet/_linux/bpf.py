"""The bpf() system call for cgroup device programs, and an assembler for the device filter.

A BPF_PROG_TYPE_CGROUP_DEVICE program runs for every open/mknod of a device node by a process of the
cgroup it is attached to.  Its context is ``struct bpf_cgroup_dev_ctx { u32 access_type; u32 major;
u32 minor; }`` where ``access_type`` holds the device type (1 block, 2 char) in its low 16 bits and
the access (1 mknod, 2 read, 4 write) in its high 16 bits; the program returns 1 to allow, 0 to deny.
"""

from __future__ import annotations

import os
import struct

from pallet._linux import ffi
from pallet._linux.libc import raw_syscall

# bpf() commands
BPF_PROG_LOAD = 5
BPF_PROG_ATTACH = 8
BPF_PROG_DETACH = 9
BPF_PROG_GET_FD_BY_ID = 13
BPF_PROG_QUERY = 16

BPF_PROG_TYPE_CGROUP_DEVICE = 15
BPF_CGROUP_DEVICE = 6  # attach type
BPF_F_ALLOW_MULTI = 2

# struct bpf_cgroup_dev_ctx
DEVCG_DEV_BLOCK = 1
DEVCG_DEV_CHAR = 2
DEVCG_ACC_MKNOD = 1
DEVCG_ACC_READ = 2
DEVCG_ACC_WRITE = 4

# Opcodes (class | size/op | source)
_LDX_W = 0x61  # BPF_LDX | BPF_MEM | BPF_W: dst = *(u32 *)(src + off)
_AND64_K = 0x57  # BPF_ALU64 | BPF_AND | BPF_K
_RSH64_K = 0x77  # BPF_ALU64 | BPF_RSH | BPF_K
_MOV64_K = 0xB7  # BPF_ALU64 | BPF_MOV | BPF_K
_MOV64_X = 0xBF  # BPF_ALU64 | BPF_MOV | BPF_X
_JNE_K = 0x55  # BPF_JMP | BPF_JNE | BPF_K
_JNE_X = 0x5D  # BPF_JMP | BPF_JNE | BPF_X
_EXIT = 0x95  # BPF_JMP | BPF_EXIT

_ACCESS_BITS = {"m": DEVCG_ACC_MKNOD, "r": DEVCG_ACC_READ, "w": DEVCG_ACC_WRITE}


def _insn(op: int, dst: int = 0, src: int = 0, off: int = 0, imm: int = 0) -> bytes:
    return struct.pack("<BBhi", op, (src << 4) | dst, off, imm)


def device_program(rules: list[tuple[bool, str, int, int, str]]) -> bytes:
    """Assemble a device filter from rules (allow, type 'a'/'c'/'b', major, minor, access).

    -1 is a wildcard major or minor.  The last rule that matches an access decides it, as writing
    the rules in order to devices.allow/deny does on cgroup v1; an access no rule matches is denied.
    A request matches a rule when all its access bits are in the rule's access.
    """
    head = [
        _insn(_LDX_W, 2, 1, 0),  # r2 = access_type
        _insn(_AND64_K, 2, imm=0xFFFF),  # r2 = device type
        _insn(_LDX_W, 3, 1, 0),  # r3 = access_type
        _insn(_RSH64_K, 3, imm=16),  # r3 = access
        _insn(_LDX_W, 4, 1, 4),  # r4 = major
        _insn(_LDX_W, 5, 1, 8),  # r5 = minor
    ]
    blocks: list[list[bytes]] = []
    for allow, typ, major, minor, access in reversed(rules):
        # Each test jumps to the next block when it fails: the offset is patched below.
        tests: list[tuple[int, int, int, int]] = []  # (op, dst, src, imm) of conditional jumps
        pre: list[list[bytes]] = []
        if typ in ("c", "b"):
            tests.append((_JNE_K, 2, 0, DEVCG_DEV_CHAR if typ == "c" else DEVCG_DEV_BLOCK))
            pre.append([])
        mask = 0
        for ch in access:
            mask |= _ACCESS_BITS[ch]
        if mask != 7:
            # r1 = access & mask; if r1 != access: the request asks for more than the rule grants.
            tests.append((_JNE_X, 1, 3, 0))
            pre.append([_insn(_MOV64_X, 1, 3), _insn(_AND64_K, 1, imm=mask)])
        if major >= 0:
            tests.append((_JNE_K, 4, 0, major))
            pre.append([])
        if minor >= 0:
            tests.append((_JNE_K, 5, 0, minor))
            pre.append([])
        verdict = [_insn(_MOV64_K, 0, imm=1 if allow else 0), _insn(_EXIT)]
        # Lay out: for each test its preparation then the jump; then the verdict.
        lengths = [len(p) + 1 for p in pre]
        total = sum(lengths) + len(verdict)
        block: list[bytes] = []
        pos = 0
        for (op, dst, src, imm), p in zip(tests, pre, strict=True):
            block.extend(p)
            pos += len(p)
            # jump offset counts instructions after the jump itself, up to the end of the block
            block.append(_insn(op, dst, src, total - pos - 1, imm))
            pos += 1
        block.extend(verdict)
        blocks.append(block)
        if not tests:
            break  # a rule matching everything: the rules before it can never decide
    else:
        blocks.append([_insn(_MOV64_K, 0, imm=0), _insn(_EXIT)])
    return b"".join(head) + b"".join(b"".join(b) for b in blocks)


def _bpf(cmd: int, attr: bytes, name: str) -> int:
    buf = ffi.create_string_buffer(attr, len(attr))
    return raw_syscall("bpf", cmd, buf, len(attr), shown=(name,))


def prog_load_device(insns: bytes, license: str = "Apache-2.0") -> int:
    """Load a cgroup device program; return its fd (close-on-exec).  Raises SyscallError."""
    code = ffi.create_string_buffer(insns, len(insns))
    lic = ffi.create_string_buffer(license.encode())
    log = ffi.create_string_buffer(65536)
    attr = struct.pack(
        "<IIQQIIQII16sII",
        BPF_PROG_TYPE_CGROUP_DEVICE, len(insns) // 8, ffi.addressof(code), ffi.addressof(lic),
        0, 0, 0, 0, 0, b"pallet_devices", 0, 0,
    )
    try:
        return _bpf(BPF_PROG_LOAD, attr, "BPF_PROG_LOAD")
    except OSError:
        # Load again with the verifier's log, to say why.
        attr = struct.pack(
            "<IIQQIIQII16sII",
            BPF_PROG_TYPE_CGROUP_DEVICE, len(insns) // 8, ffi.addressof(code), ffi.addressof(lic),
            1, len(log), ffi.addressof(log), 0, 0, b"pallet_devices", 0, 0,
        )
        try:
            return _bpf(BPF_PROG_LOAD, attr, "BPF_PROG_LOAD")
        except OSError as e:
            verifier = log.value.decode(errors="replace").strip()
            raise OSError(e.errno, f"{e.strerror}; verifier: {verifier[-2000:]}") from None


def prog_attach(cgroup_fd: int, prog_fd: int, flags: int = BPF_F_ALLOW_MULTI) -> None:
    attr = struct.pack("<IIIII", cgroup_fd, prog_fd, BPF_CGROUP_DEVICE, flags, 0)
    _bpf(BPF_PROG_ATTACH, attr, "BPF_PROG_ATTACH")


def prog_detach(cgroup_fd: int, prog_fd: int) -> None:
    attr = struct.pack("<IIIII", cgroup_fd, prog_fd, BPF_CGROUP_DEVICE, 0, 0)
    _bpf(BPF_PROG_DETACH, attr, "BPF_PROG_DETACH")


def prog_query(cgroup_fd: int) -> list[int]:
    """Ids of the device programs attached to a cgroup (directly, not inherited)."""
    ids = (ffi.c_uint32 * 64)()
    attr = ffi.create_string_buffer(
        struct.pack("<IIIIQI", cgroup_fd, BPF_CGROUP_DEVICE, 0, 0, ffi.addressof(ids), 64), 40
    )
    raw_syscall("bpf", BPF_PROG_QUERY, attr, 40, shown=("BPF_PROG_QUERY",))
    count = struct.unpack_from("<I", attr.raw, 24)[0]
    return [ids[i] for i in range(min(count, 64))]


def prog_fd_by_id(prog_id: int) -> int:
    attr = struct.pack("<III", prog_id, 0, 0)
    return _bpf(BPF_PROG_GET_FD_BY_ID, attr, "BPF_PROG_GET_FD_BY_ID")


def replace_device_program(cgroup_dir: str, insns: bytes) -> None:
    """Attach ``insns`` to ``cgroup_dir`` and detach the device programs attached there before.

    The new program is attached before the old ones go, so that no access slips through between.
    """
    cg = os.open(cgroup_dir, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        old = prog_query(cg)
        prog = prog_load_device(insns)
        try:
            prog_attach(cg, prog)
        finally:
            os.close(prog)
        for prog_id in old:
            try:
                fd = prog_fd_by_id(prog_id)
            except OSError:
                continue
            try:
                prog_detach(cg, fd)
            except OSError:
                pass
            finally:
                os.close(fd)
    finally:
        os.close(cg)
