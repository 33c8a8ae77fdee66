"""The engine's in-process runtime: pallet.runtime called as a library, no second interpreter.

``InProcessRuntime(runroot)`` has the interface of ``OCIRuntime`` (create, start, state, kill,
delete, pause, resume, update, exec) and is the default (``--runtime pallet``).  Its state lives
in ``<runroot>/runtime/pallet``, in the same format ``pallet-runtime --root`` reads, so that
``pallet-runtime --root <runroot>/runtime/pallet list`` shows the engine's containers.

pallet.runtime's create forks (intermediate, then the container's init) and unshares a user
namespace in the child, which fails in a multi-threaded process: ``create`` refuses to run when
this process has more than one thread.  The container's stdio is whatever the runtime's children
inherit as fds 0, 1, 2: ``create`` puts the caller's three fds there for the time of the fork and
puts its own back before it returns (or raises).
"""

from __future__ import annotations

import os

from pallet.errors import NotFoundError, PalletError, RuntimeFailure

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pallet.runtime.container import Container

NAME = "pallet"


def thread_count(but: int = 0) -> int:
    """The number of threads of this process, the thread ``but`` left out."""
    return sum(1 for t in os.listdir("/proc/self/task") if int(t) != but)


class _Stdio:
    """fds 0, 1, 2 replaced by the container's for a fork; the originals restored on exit."""

    def __init__(self, stdio: tuple[int, int, int]) -> None:
        self.stdio = stdio
        self.saved: list[int] = []

    def __enter__(self) -> None:
        import sys

        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (OSError, ValueError):
                pass
        for target, fd in enumerate(self.stdio):
            if fd == target:
                self.saved.append(-1)
                continue
            try:
                self.saved.append(os.dup(target))
            except OSError:  # fd ``target`` was closed: close it again afterwards
                self.saved.append(-2)
            os.dup2(fd, target)

    def __exit__(self, *exc: object) -> None:
        for target, saved in enumerate(self.saved):
            if saved == -1:
                continue
            if saved == -2:
                os.close(target)
                continue
            os.dup2(saved, target)
            os.close(saved)


class InProcessRuntime:
    """pallet.runtime in this process, with its state under ``<runroot>/runtime/pallet``."""

    name = NAME
    binary = ""

    def __init__(self, runroot: str) -> None:
        self.state_root = os.path.join(runroot, "runtime", NAME)

    def _load(self, cid: str) -> Container:
        from pallet.runtime.container import Container

        try:
            return Container.load(self.state_root, cid)
        except NotFoundError:
            raise self._not_found(cid) from None

    def _not_found(self, cid: str) -> NotFoundError:
        """The engine's wording for a container the runtime does not know."""
        return NotFoundError(f"container {cid} not found by the pallet runtime (in {self.state_root})")

    def create(
        self,
        cid: str,
        bundle: str,
        pid_file: str,
        stdio: tuple[int, int, int],
        console_socket: str | None = None,
        *,
        durable: bool = True,
        spec: dict[str, object] | None = None,
    ) -> int:
        """Create the container (its init waits for start); returns the init's pid.

        ``pid_file`` is not written: the pid is returned (the argument keeps OCIRuntime's shape).
        Not ``durable``: the runtime's state file is not fsynced (a --rm container, gone with its run)."""
        from pallet.runtime import lifecycle

        del pid_file
        from pallet.runtime.cgroups.warmup import warmup_tid

        # The cgroup warm-up's thread (started by `run`) only makes system calls: the fork leaves a
        # single-threaded child all the same.  lifecycle.create goes on with it and stops it.
        threads = thread_count(but=warmup_tid())
        if threads != 1:
            raise RuntimeFailure(
                f"the in-process runtime cannot create container {cid}: this process runs {threads} threads "
                "(creating a container forks and unshares a user namespace, which needs a single thread); "
                "use --runtime runc or create from a single-threaded process", step="create")
        opts = lifecycle.CreateOptions(console_socket=console_socket or "")
        with _Stdio(stdio):
            try:
                _container, started = lifecycle.create(self.state_root, cid, bundle, opts, durable=durable,
                                                       config=spec)
            except PalletError:
                raise
            except OSError as exc:
                raise RuntimeFailure(f"creating container {cid} failed: {exc}", step="create") from exc
        return started.pid

    def start(self, cid: str) -> None:
        from pallet.runtime import lifecycle

        lifecycle.start(self.state_root, cid)

    def state(self, cid: str) -> dict[str, object]:
        return self._load(cid).runc_state()

    def kill(self, cid: str, sig: int | str, all_processes: bool = False) -> None:
        from pallet.runtime import lifecycle

        num = sig if isinstance(sig, int) else lifecycle.parse_signal(sig)
        lifecycle.kill(self.state_root, cid, num, all_processes=all_processes)

    def delete(self, cid: str, force: bool = False) -> None:
        from pallet.runtime import lifecycle

        if not os.path.isdir(os.path.join(self.state_root, cid)):
            return
        try:
            lifecycle.delete(self.state_root, cid, force=force)
        except NotFoundError:
            pass

    def pause(self, cid: str) -> None:
        from pallet.runtime.control import set_frozen

        try:
            set_frozen(self.state_root, cid, freeze=True)
        except NotFoundError:
            raise self._not_found(cid) from None

    def resume(self, cid: str) -> None:
        from pallet.runtime.control import set_frozen

        try:
            set_frozen(self.state_root, cid, freeze=False)
        except NotFoundError:
            raise self._not_found(cid) from None

    def update(self, cid: str, resources_file: str) -> None:
        """New limits (linux.resources in ``resources_file``): checked, written, saved in the state."""
        import json

        from pallet.errors import ConfigError
        from pallet.runtime.control import update_resources

        try:
            with open(resources_file) as f:
                resources = json.load(f)
        except (OSError, ValueError) as exc:
            raise ConfigError(f"resources file {resources_file}: {exc}") from None
        if not isinstance(resources, dict):
            raise ConfigError(f"resources file {resources_file} must hold a JSON object (linux.resources)")
        resources.pop("devices", None)
        try:
            update_resources(self.state_root, cid, resources)
        except NotFoundError:
            raise self._not_found(cid) from None

    def exec(self, cid: str, process_file: str, *, detach: bool = False, tty: bool = False,
             interactive: bool = False, pid_file: str = "") -> int:
        """Run the process of ``process_file`` in the container; its exit code (0 when detached)."""
        import json

        from pallet.runtime.execproc import ExecOptions, exec_process

        with open(process_file) as f:
            process = json.load(f)
        if tty and not detach:
            return self._exec_tty(cid, process, interactive)
        if interactive and not detach:
            return exec_process(self.state_root, cid, process, ExecOptions(detach=False))
        devnull = os.open(os.devnull, os.O_RDWR | os.O_CLOEXEC)
        try:
            with _Stdio((devnull, devnull, devnull) if detach else (devnull, 1, 2)):
                return exec_process(self.state_root, cid, process, ExecOptions(detach=detach, pid_file=pid_file))
        finally:
            os.close(devnull)

    def _exec_tty(self, cid: str, process: dict[str, object], interactive: bool) -> int:
        """A foreground exec with a terminal: its pty master comes to us; we copy and reap."""
        from pallet._linux.prctl import set_child_subreaper
        from pallet.engine.attach import console_listener, forward_signals, pump, receive_console
        from pallet.runtime.execproc import ExecOptions, exec_process

        set_child_subreaper(True)
        rundir = os.path.join(self.state_root, cid)
        path = os.path.join(rundir, f"exec-{os.getpid()}.sock")
        if len(path) >= 100:  # AF_UNIX paths are limited to 108 bytes
            path = f"/tmp/pallet-exec-{cid[:12]}-{os.getpid()}.sock"
        pid_file = os.path.join(rundir, f"exec-{os.getpid()}.pid")
        listener = console_listener(path)
        try:
            exec_process(self.state_root, cid, process,
                         ExecOptions(detach=True, console_socket=path, pid_file=pid_file))
            master = receive_console(listener)
            with open(pid_file) as f:
                pid = int(f.read())
        finally:
            for leftover in (path, pid_file):
                try:
                    os.unlink(leftover)
                except FileNotFoundError:
                    pass
        restore = None
        if interactive and os.isatty(0):
            from pallet.engine.attach import _raw

            restore = _raw(0)

        forward_signals(pid)
        try:
            pump({master: ("stdout", 1)}, None, stdin_to=master if interactive else -1)
        finally:
            if restore is not None:
                restore()
            if interactive:
                try:
                    os.close(master)
                except OSError:
                    pass
        from pallet.engine.attach import _reap
        from pallet.engine.service import exit_status

        return exit_status(_reap(pid))
