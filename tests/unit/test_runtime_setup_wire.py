"""The Setup sent to a child forked before it was made (process.prefork): everything the children
use arrives equal, fds by SCM_RIGHTS, and a Setup larger than one datagram arrives whole."""

from __future__ import annotations

import os
from pathlib import Path

from pallet.runtime import namespaces
from pallet.runtime.capabilities import CapSets
from pallet.runtime.cgroups.v1 import V1Manager
from pallet.runtime.process.channel import Channel
from pallet.runtime.process.setup import Setup, from_wire, to_wire
from pallet.runtime.seccomp import CompiledFilter


def _setup(tmp_path: Path) -> Setup:
    config: dict[str, object] = {
        "ociVersion": "1.2.0", "root": {"path": "rootfs", "readonly": True},
        "process": {"args": ["sh"], "env": ["A=" + "x" * 200_000], "cwd": "/", "terminal": False},
        "linux": {"namespaces": [{"type": "pid"}, {"type": "network", "path": "/run/netns/x"}],
                  "maskedPaths": ["/proc/kcore"]},
        "hostname": "h",
    }
    s = Setup("c1", config, str(tmp_path))
    s.ns = namespaces.plan(s.linux["namespaces"])  # type: ignore[arg-type]
    s.caps = CapSets(1, 2, 3, 0, 0, last_cap=40)
    s.seccomp = CompiledFilter(b"\x06\x00\x00\x00\x00\x00\xff\x7f", 1, False, None, "", ("foo",))
    s.cgroup = V1Manager("/sys/fs/cgroup", "/pallet/c1", {"memory": "/sys/fs/cgroup/memory"},
                         "/sys/fs/cgroup/unified", join_unified=False)
    s.resources = {"memory": {"limit": 1 << 26}}
    s.late_go = True
    s.preserve_fds = 2
    s.fifo_fd = os.open(tmp_path, os.O_PATH | os.O_CLOEXEC)
    return s


def test_a_setup_crosses_the_channel_whole(tmp_path: Path) -> None:
    sent = _setup(tmp_path)
    a, b = Channel.pair()
    received = None
    try:
        blob, fds = to_wire(sent)
        assert len(blob) > 200_000 and fds == [sent.fifo_fd]
        pid = os.fork()
        if pid == 0:  # the sender: a datagram this size needs a reader at the same time
            try:
                a.send_blob("setup", blob, fds)
            finally:
                os._exit(0)
        data, got = b.recv_blob("setup", who="test")
        os.waitpid(pid, 0)
        received = from_wire(data, got)
        assert received.config == sent.config and received.process is received.config["process"]
        for name in ("cid", "bundle", "rootfs", "readonly_root", "resources", "late_go",
                     "preserve_fds", "is_exec", "release_fd", "join_pidfd"):
            assert getattr(received, name) == getattr(sent, name), name
        assert received.ns is not None and sent.ns is not None
        assert (received.ns.unshare, received.ns.joins, received.ns.types) == (sent.ns.unshare, sent.ns.joins,
                                                                               sent.ns.types)
        assert received.caps == sent.caps
        assert isinstance(received.seccomp, CompiledFilter) and received.seccomp.program == sent.seccomp.program  # type: ignore[union-attr]
        assert received.cgroup is not None and received.cgroup.self_joins
        assert received.cgroup.paths() == sent.cgroup.paths()  # type: ignore[union-attr]
        # the fifo arrived as a new fd of the same file
        assert received.fifo_fd not in (-1, sent.fifo_fd)
        assert os.path.samestat(os.fstat(received.fifo_fd), os.fstat(sent.fifo_fd))
    finally:
        a.close()
        b.close()
        os.close(sent.fifo_fd)
        if received is not None and received.fifo_fd >= 0:
            os.close(received.fifo_fd)
