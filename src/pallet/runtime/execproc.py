"""``exec``: a new process inside a running container.

The child joins every namespace of the container's init that differs from ours, at once, through
a pidfd (setns(pidfd, flags)), is put into the container's cgroup, and forks the process itself,
which is then inside the container's PID namespace; it sets up user, privileges, cwd and env as the
init did, loads the seccomp filter of the container and execs.
"""

from __future__ import annotations

import os

from pallet._linux.consts import NAMESPACES
from pallet.errors import ConfigError, StateError
from pallet.runtime.container import Container

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pallet._linux.system import System


class ExecOptions:
    def __init__(
        self, *, detach: bool = False, pid_file: str = "", console_socket: str = "", preserve_fds: int = 0
    ) -> None:
        self.detach = detach
        self.pid_file = pid_file
        self.console_socket = console_socket
        self.preserve_fds = preserve_fds


def _join_flags(pid: int) -> int:
    flags = 0
    for _kind, (flag, name) in NAMESPACES.items():
        try:
            theirs = os.stat(f"/proc/{pid}/ns/{name}").st_ino
            ours = os.stat(f"/proc/self/ns/{name}").st_ino
        except FileNotFoundError:
            continue
        if theirs != ours:
            flags |= flag
    return flags


def exec_process(root: str, cid: str, process: dict[str, object], opts: ExecOptions | None = None,
                 *, sys: System | None = None) -> int:
    """Run ``process`` (an OCI process object) in container ``cid``; its exit code, or 0 if detached."""
    from pallet._linux.host import pidfd_open
    from pallet._linux.prctl import set_child_subreaper
    from pallet.oci.validate import validate_process
    from pallet.runtime.lifecycle import _write_pid_file, wait_foreground
    from pallet.runtime.process.parent import run_children
    from pallet.runtime.process.setup import Setup

    opts = opts or ExecOptions()
    c = Container.load(root, cid)
    status = c.status()
    if status not in ("running", "created"):
        raise StateError(f"cannot exec in container {cid!r}: it is {status} (container not running)")
    validate_process(process)
    config = dict(c.config)
    config["process"] = process
    setup = Setup(cid, config, c.bundle)
    setup.is_exec = True
    setup.detach = opts.detach
    setup.preserve_fds = opts.preserve_fds
    if setup.terminal and opts.detach and not opts.console_socket:
        raise ConfigError("--tty with --detach needs --console-socket")
    from pallet.runtime import namespaces

    setup.ns = namespaces.plan(setup.linux.get("namespaces") or [])  # type: ignore[arg-type]
    caps = process.get("capabilities")
    if caps is not None:
        from pallet.runtime import capabilities

        setup.caps = capabilities.parse_capabilities(caps)  # type: ignore[arg-type]
    seccomp = setup.linux.get("seccomp")
    if seccomp:
        from pallet.runtime import seccomp as seccomp_mod
        from pallet.runtime.statedir import SECCOMP_CACHE

        setup.seccomp = seccomp_mod.compile_filter(
            seccomp, cache_dir=os.path.join(root, SECCOMP_CACHE))  # type: ignore[arg-type]
    cg = c.cgroup()
    setup.cgroup = cg  # type: ignore[assignment]
    setup.join_pidfd = pidfd_open(c.pid)
    setup.join_flags = _join_flags(c.pid)
    # Also when detached: while it is set up the process is ours to reap if it fails (once this
    # command exits, it passes to our own parent or subreaper).
    set_child_subreaper(True)
    if sys is None:
        from pallet._linux.system import System

        sys = System()
    try:
        started = run_children(setup, sys, c.oci_state())
    finally:
        os.close(setup.join_pidfd)
    _write_pid_file(opts.pid_file, started.pid)
    if started.console_fd >= 0 and opts.console_socket:
        from pallet.runtime.console import send_to_socket

        try:
            send_to_socket(opts.console_socket, started.console_fd)
        finally:
            os.close(started.console_fd)
            started.console_fd = -1
    if opts.detach:
        return 0
    try:
        return wait_foreground(started.pid, started.console_fd)
    finally:
        if started.console_fd >= 0:
            os.close(started.console_fd)
