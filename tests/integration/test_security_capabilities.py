"""Capability sets applied in a forked child: /proc/self/status shows them, the kernel enforces them."""

from __future__ import annotations

import errno
import os
import socket
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from tests.helpers.child import errno_of, run_in_child

from pallet._linux.caps import CAP_NUMBERS, last_cap
from pallet._linux.consts import CLONE_NEWNET
from pallet._linux.ns import unshare
from pallet.runtime import capabilities as caps


def mask(*names: str) -> int:
    return sum(1 << CAP_NUMBERS[n] for n in names)


def in_child(body: Callable[[], object]) -> object:
    return run_in_child(body)[0]


def bind_80() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("0.0.0.0", 80))


def switch_user(sets: caps.CapSets, uid: int) -> None:
    """The init's order: bounding, keepcaps, uid switch, apply."""
    caps.drop_bounding(sets)
    caps.prepare_uid_switch()
    os.setgroups([])
    os.setgid(uid)
    os.setuid(uid)
    caps.apply(sets)


def test_root_with_a_reduced_set(tmp_path: Path) -> None:
    target = tmp_path / "f"
    target.write_text("x")
    sets = caps.parse_capabilities({
        "bounding": ["CAP_CHOWN", "CAP_SETUID", "CAP_SETGID", "SETPCAP"],
        "effective": ["CAP_CHOWN"], "permitted": ["CAP_CHOWN"],
    })

    def body() -> object:
        unshare(CLONE_NEWNET)  # a private port 80
        caps.drop_bounding(sets)
        caps.apply(sets)
        return {
            "status": caps.current(),
            "chown": errno_of(lambda: os.chown(target, 1000, 1000)),
            "bind80": errno_of(bind_80),
            "mknod": errno_of(lambda: os.mknod(tmp_path / "null", 0o20666, os.makedev(1, 3))),
        }

    result = in_child(body)
    assert isinstance(result, dict)
    status = result["status"]
    assert status["bounding"] == mask("CAP_CHOWN", "CAP_SETUID", "CAP_SETGID", "CAP_SETPCAP")
    assert status["effective"] == status["permitted"] == mask("CAP_CHOWN")
    assert status["inheritable"] == 0 and status["ambient"] == 0
    assert result["chown"] == 0 and os.stat(target).st_uid == 1000
    assert result["bind80"] == errno.EACCES
    assert result["mknod"] == errno.EPERM


def test_capabilities_survive_the_switch_to_a_non_root_user(tmp_path: Path) -> None:
    target = tmp_path / "f"
    target.write_text("x")
    wanted = ["CAP_CHOWN", "CAP_NET_BIND_SERVICE"]
    sets = caps.parse_capabilities({"bounding": [*wanted, "CAP_SETPCAP"], "effective": wanted, "permitted": wanted})

    def body() -> object:
        unshare(CLONE_NEWNET)
        fd = os.open(target, os.O_RDONLY)  # the test directory is not searchable by uid 1000
        switch_user(sets, 1000)
        return {"uid": os.getuid(), "status": caps.current(), "chown": errno_of(lambda: os.fchown(fd, 0, 0)),
                "bind80": errno_of(bind_80), "setuid": errno_of(lambda: os.setuid(0))}

    result = in_child(body)
    assert isinstance(result, dict)
    assert result["uid"] == 1000
    assert result["status"]["effective"] == mask(*wanted)
    assert result["status"]["bounding"] == mask(*wanted, "CAP_SETPCAP")
    assert result["status"]["inheritable"] == 0 and result["status"]["ambient"] == 0
    assert result["chown"] == 0 and result["bind80"] == 0
    assert result["setuid"] == errno.EPERM


def test_without_process_capabilities_a_non_root_user_has_none() -> None:
    sets = caps.parse_capabilities(None)
    assert not sets.given

    def body() -> object:
        caps.drop_bounding(sets)
        os.setgid(1000)
        os.setuid(1000)  # no keepcaps: the permitted set is gone
        caps.apply(sets)
        return caps.current()

    status = in_child(body)
    assert isinstance(status, dict)
    assert status["effective"] == status["permitted"] == 0


def test_a_dropped_bounding_capability_cannot_come_back() -> None:
    sets = caps.parse_capabilities({"bounding": ["CAP_KILL"], "effective": ["CAP_KILL"], "permitted": ["CAP_KILL"]})

    def body() -> object:
        caps.drop_bounding(sets)
        caps.apply(sets)
        from pallet._linux.caps import capset

        return errno_of(lambda: capset(mask("CAP_KILL", "CAP_SYS_ADMIN"), mask("CAP_KILL", "CAP_SYS_ADMIN"), 0))

    assert in_child(body) == errno.EPERM


@pytest.mark.skipif(not os.path.exists("/bin/busybox"), reason="busybox-static is needed")
def test_ambient_capabilities_reach_the_program_after_execve() -> None:
    cap = ["CAP_NET_BIND_SERVICE"]
    sets = caps.parse_capabilities({"bounding": cap, "effective": cap, "permitted": cap, "inheritable": cap, "ambient": cap})
    plain = caps.parse_capabilities({"bounding": cap, "effective": cap, "permitted": cap})

    def exec_status(s: caps.CapSets) -> dict[str, int]:
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:
            try:
                os.close(r)
                switch_user(s, 1000)
                os.dup2(w, 1)
                os.execv("/bin/busybox", ["cat", "/proc/self/status"])
            finally:
                os._exit(127)
        os.close(w)
        with os.fdopen(r) as f:
            text = f.read()
        os.waitpid(pid, 0)
        fields = dict(line.split(":\t") for line in text.splitlines() if line.startswith("Cap"))
        return {k: int(v, 16) for k, v in fields.items()}

    with_ambient = exec_status(sets)
    assert with_ambient["CapAmb"] == mask(*cap) and with_ambient["CapEff"] == mask(*cap)
    assert with_ambient["CapInh"] == mask(*cap)
    without = exec_status(plain)
    assert without["CapAmb"] == 0 and without["CapEff"] == 0 and without["CapInh"] == 0


def test_apply_reports_what_the_runtime_lacks() -> None:
    sets = caps.parse_capabilities({"bounding": ["CAP_KILL"], "effective": ["CAP_KILL"], "permitted": ["CAP_KILL"]})
    less = caps.parse_capabilities({"bounding": ["CAP_CHOWN"], "effective": ["CAP_CHOWN"], "permitted": ["CAP_CHOWN"]})

    def body() -> object:
        caps.drop_bounding(less)
        caps.apply(less)
        try:
            caps.apply(sets)
        except Exception as e:  # RuntimeFailure
            return str(e)
        return "applied"

    message = in_child(body)
    assert isinstance(message, str) and "CAP_KILL" in message and "not permitted" in message


def test_status_reading_matches_the_kernel() -> None:
    text = subprocess.run(["grep", "^CapBnd", "/proc/self/status"], capture_output=True, text=True).stdout
    assert int(text.split()[1], 16) == caps.current()["bounding"]


def test_bounding_drops_need_cap_setpcap_only_for_capabilities_still_held() -> None:
    # drop_bounding drops without reading first: a drop refused for want of CAP_SETPCAP is an
    # error only where the capability is still in the bounding set.
    held = caps.current()["permitted"]  # (root here lacks CAP_SYS_RESOURCE)
    keep = [n for n, v in CAP_NUMBERS.items()
            if v <= last_cap() and held >> v & 1 and n not in ("CAP_SYS_BOOT", "CAP_SETPCAP")]
    first = caps.parse_capabilities({"bounding": keep, "effective": keep, "permitted": keep})
    fewer = [n for n in keep if n != "CAP_KILL"]
    second = caps.parse_capabilities({"bounding": fewer, "effective": fewer, "permitted": fewer})

    def body() -> object:
        caps.drop_bounding(first)  # with CAP_SETPCAP: SYS_BOOT and SETPCAP go
        caps.apply(first)  # and CAP_SETPCAP leaves the effective set
        caps.drop_bounding(first)  # both gone already: no error without CAP_SETPCAP
        again = caps.current()["bounding"]
        return again, errno_of(lambda: caps.drop_bounding(second))  # CAP_KILL is still there

    result = in_child(body)
    assert isinstance(result, list)  # (through JSON)
    bounding, kill_drop = result
    assert bounding == mask(*keep)
    assert kill_drop == errno.EPERM
