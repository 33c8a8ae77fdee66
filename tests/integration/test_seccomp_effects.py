"""Seccomp filters compiled by pallet, loaded in a forked child: the kernel really enforces them."""

from __future__ import annotations

import ctypes
import errno
import json
import os
import signal
import socket
import threading
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from tests.helpers.child import errno_of, run_in_child

from pallet._linux import seccomp as lib
from pallet._linux.prctl import set_no_new_privs
from pallet.engine.security.capabilities import DEFAULT_CAPABILITIES
from pallet.engine.security.seccomp_profile import default_seccomp
from pallet.errors import RuntimeFailure
from pallet.runtime.seccomp import compile_filter, load_filter, send_listener

_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long


def raw(name: str, *args: int) -> int:
    """Call syscall ``name`` with integer args; -errno on failure, the result otherwise."""
    nr = lib.syscall_resolve(name)
    assert nr >= 0, name
    ret = _libc.syscall(ctypes.c_long(nr), *(ctypes.c_long(a) for a in args))
    return -ctypes.get_errno() if ret < 0 else int(ret)


def run_filtered(seccomp: dict[str, Any], body: Callable[[], object]) -> tuple[object, int]:
    """Fork; the child sets no_new_privs, loads the filter and runs ``body``; its JSON result and
    the raw wait status come back."""
    compiled = compile_filter(seccomp, warn=lambda m: None)
    assert compiled is not None

    def filtered() -> object:
        set_no_new_privs()
        load_filter(compiled)
        return body()

    return run_in_child(filtered)


def test_denied_syscall_returns_eperm_and_others_still_work(tmp_path: Path) -> None:
    profile = {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO"}]}
    target = tmp_path / "d"

    def body() -> object:
        return [errno_of(lambda: os.mkdir(target)), errno_of(lambda: (tmp_path / "f").write_text("x"))]

    result, status = run_filtered(profile, body)
    assert result == [errno.EPERM, 0]
    assert not target.exists() and (tmp_path / "f").exists()
    assert os.WIFEXITED(status)


def test_errno_ret_and_default_errno_ret(tmp_path: Path) -> None:
    profile = {
        "defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": errno.ENOTSUP,
        "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": errno.EXDEV},
                     {"names": _needed(), "action": "SCMP_ACT_ALLOW"}],
    }

    def body() -> object:
        return [errno_of(lambda: os.mkdir(tmp_path / "d")), raw("getppid") > 0,
                errno_of(lambda: os.rmdir(tmp_path / "nothing"))]

    result, _ = run_filtered(profile, body)
    assert result == [errno.EXDEV, True, errno.ENOTSUP]


def _needed() -> list[str]:
    """What the child itself needs after the filter is loaded (json, os.write, exit)."""
    return ["write", "exit", "exit_group", "getppid", "brk", "mmap", "munmap", "mremap", "rt_sigaction",
            "rt_sigprocmask", "futex", "close", "getpid", "gettid", "fstat", "newfstatat", "lseek", "madvise"]


def test_kill_action_kills_the_process() -> None:
    profile = {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["getppid"], "action": "SCMP_ACT_KILL_PROCESS"}]}
    result, status = run_filtered(profile, lambda: raw("getppid"))
    assert result is None
    assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGSYS


# kill(self, sig) with signals ignored by default: 0 (a probe), SIGCHLD 17, SIGURG 23, SIGWINCH 28.
_SIGNALS = [0, 17, 23, 28]


@pytest.mark.parametrize(
    ("op", "value", "two", "denied"),
    [
        ("SCMP_CMP_EQ", 17, 0, [17]),
        ("SCMP_CMP_NE", 17, 0, [0, 23, 28]),
        ("SCMP_CMP_LT", 23, 0, [0, 17]),
        ("SCMP_CMP_LE", 23, 0, [0, 17, 23]),
        ("SCMP_CMP_GE", 23, 0, [23, 28]),
        ("SCMP_CMP_GT", 23, 0, [28]),
        ("SCMP_CMP_MASKED_EQ", 0x10, 0x10, [17, 23, 28]),
        ("SCMP_CMP_MASKED_EQ", 0x0F, 0x01, [17]),
    ],
)
def test_argument_comparisons(op: str, value: int, two: int, denied: list[int]) -> None:
    profile = {
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["kill"], "action": "SCMP_ACT_ERRNO", "errnoRet": errno.EXDEV,
                      "args": [{"index": 1, "value": value, "valueTwo": two, "op": op}]}],
    }

    def body() -> object:
        me = os.getpid()
        return [sig for sig in _SIGNALS if errno_of(partial(os.kill, me, sig)) == errno.EXDEV]

    result, _ = run_filtered(profile, body)
    assert result == denied


def test_two_arguments_must_both_match_and_one_argument_twice_means_either() -> None:
    me_marker = {"index": 0, "value": 0, "op": "SCMP_CMP_GT"}
    profile = {
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [
            {"names": ["kill"], "action": "SCMP_ACT_ERRNO", "errnoRet": errno.EXDEV,
             "args": [me_marker, {"index": 1, "value": 17, "op": "SCMP_CMP_EQ"}]},
            {"names": ["kill"], "action": "SCMP_ACT_ERRNO", "errnoRet": errno.ENOTSUP,
             "args": [{"index": 1, "value": 23, "op": "SCMP_CMP_EQ"}, {"index": 1, "value": 28, "op": "SCMP_CMP_EQ"}]},
        ],
    }

    def body() -> object:
        me = os.getpid()
        return {sig: errno_of(partial(os.kill, me, sig)) for sig in _SIGNALS}

    result, _ = run_filtered(profile, body)
    assert result == {"0": 0, "17": errno.EXDEV, "23": errno.ENOTSUP, "28": errno.ENOTSUP}


def test_notify_hands_a_listener_fd_that_receives_the_call(tmp_path: Path) -> None:
    agent_path = str(tmp_path / "agent.sock")
    profile: dict[str, Any] = {
        "defaultAction": "SCMP_ACT_ALLOW", "listenerPath": agent_path, "listenerMetadata": "meta=1",
        "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_NOTIFY"}],
    }
    compiled = compile_filter(profile)
    assert compiled is not None and compiled.notify and compiled.flags & lib.FILTER_FLAG_NEW_LISTENER
    agent = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    agent.bind(agent_path)
    agent.listen(1)
    parent_sock, child_sock = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            parent_sock.close()
            set_no_new_privs()
            fd = load_filter(compiled)
            assert fd is not None
            socket.send_fds(child_sock, [b"fd"], [fd])
            os.close(fd)
            try:
                os.mkdir(tmp_path / "made")
            except OSError as e:
                code = 50 + (e.errno or 0) if e.errno == errno.EXDEV else 2
        finally:
            os._exit(code)
    received: dict[str, object] = {}
    try:
        child_sock.close()
        _msg, fds, _flags, _addr = socket.recv_fds(parent_sock, 16, 1)
        assert len(fds) == 1
        sender = threading.Thread(target=send_listener, args=(fds[0], agent_path, {"pid": pid, "id": "c1"}, "meta=1"))
        sender.start()
        conn, _ = agent.accept()
        msg, agent_fds, _flags, _addr = socket.recv_fds(conn, 65536, 4)
        sender.join()
        os.close(fds[0])
        received = json.loads(msg)
        assert len(agent_fds) == 1
        note = lib.notif_recv(agent_fds[0])
        assert note.pid == pid
        assert note.syscall in (lib.syscall_resolve("mkdir"), lib.syscall_resolve("mkdirat"))
        lib.notif_respond(agent_fds[0], note.id, error=errno.EXDEV)
        os.close(agent_fds[0])
        conn.close()
    finally:
        _, status = os.waitpid(pid, 0)
        agent.close()
        parent_sock.close()
    assert os.WEXITSTATUS(status) == 50 + errno.EXDEV
    assert not (tmp_path / "made").exists()
    assert received["fds"] == ["seccompFd"] and received["pid"] == pid and received["metadata"] == "meta=1"
    assert received["state"] == {"pid": pid, "id": "c1"}


def test_default_profile_blocks_what_docker_blocks() -> None:
    seccomp = default_seccomp(DEFAULT_CAPABILITIES)
    calls = {
        "mount": (0, 0, 0, 0, 0),
        "umount2": (0, 0),
        "unshare": (0x10000000,),
        "setns": (-1, 0),
        "keyctl": (0, -3, 0),
        "add_key": (0, 0, 0, 0, 0),
        "request_key": (0, 0, 0, 0),
        "bpf": (0, 0, 0),
        "perf_event_open": (0, 0, -1, -1, 0),
        "init_module": (0, 0, 0),
        "finit_module": (-1, 0, 0),
        "delete_module": (0, 0),
        "reboot": (0, 0, 0, 0),
        "swapon": (0, 0),
        "swapoff": (0,),
        "clock_settime": (0, 0),
        "settimeofday": (0, 0),
        "pivot_root": (0, 0),
        "syslog": (10, 0, 0),
        "userfaultfd": (0,),
        "open_by_handle_at": (-1, 0, 0),
        "personality": (0x0040000,),
        "clone3": (0, 0),
        "socket:vsock": (40, 1, 0),
        "socket:alg": (38, 5, 0),
    }

    def body() -> object:
        out = {name: raw(name.split(":")[0], *args) for name, args in calls.items()}
        out["allowed:personality_query"] = raw("personality", 0xFFFFFFFF)
        fd = raw("socket", socket.AF_UNIX, socket.SOCK_STREAM, 0)
        out["allowed:socket_unix"] = fd
        os.close(fd)
        out["allowed:mkdir_bad_path"] = raw("getppid")
        return out

    result, _ = run_filtered(seccomp, body)
    assert isinstance(result, dict)
    for name in calls:
        expected = -errno.ENOSYS if name == "clone3" else -errno.EPERM
        assert result[name] == expected, f"{name}: {result[name]}"
    assert result["allowed:personality_query"] >= 0
    assert result["allowed:socket_unix"] >= 0
    assert result["allowed:mkdir_bad_path"] > 0


def test_default_profile_clone_namespace_flags_denied_plain_fork_allowed() -> None:
    seccomp = default_seccomp(DEFAULT_CAPABILITIES)

    def body() -> object:
        denied = raw("clone", 0x04000000 | signal.SIGCHLD, 0, 0, 0, 0)  # CLONE_NEWUTS
        child = os.fork()
        if child == 0:
            os._exit(7)
        _, st = os.waitpid(child, 0)
        return [denied, os.WEXITSTATUS(st)]

    result, _ = run_filtered(seccomp, body)
    assert result == [-errno.EPERM, 7]


def test_default_profile_with_sys_admin_lets_mount_through() -> None:
    seccomp = default_seccomp([*DEFAULT_CAPABILITIES, "CAP_SYS_ADMIN"])
    result, _ = run_filtered(seccomp, lambda: [raw("mount", 0, 0, 0, 0, 0), raw("keyctl", 0, -3, 0) == -errno.EPERM])
    assert isinstance(result, list)
    assert result[0] != -errno.EPERM  # the kernel saw it (EFAULT for the NULL target)
    assert result[1] is True  # the keyring stays closed even so, as in docker


def test_loading_without_no_new_privs_or_sys_admin_fails() -> None:
    compiled = compile_filter({"defaultAction": "SCMP_ACT_ALLOW"})
    assert compiled is not None
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        code = 0
        try:
            os.setgid(65534)
            os.setuid(65534)
            load_filter(compiled)
        except RuntimeFailure as e:
            code = e.errno or 99
            os.write(w, str(e).encode())
        finally:
            os._exit(code)
    os.close(w)
    with os.fdopen(r) as f:
        message = f.read()
    _, status = os.waitpid(pid, 0)
    assert os.WEXITSTATUS(status) == errno.EACCES
    assert "needs no_new_privs (process.noNewPrivileges) or CAP_SYS_ADMIN" in message
