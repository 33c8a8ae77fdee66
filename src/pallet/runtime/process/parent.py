"""The runtime's side of create and exec: fork the children and answer them on the channel.

See pallet.runtime.process.channel for the protocol.  If anything fails, what was made is undone
(children killed, cgroup removed) by the caller's cleanup; the error raised names the step.
"""

from __future__ import annotations

import os

from pallet.errors import RuntimeFailure
from pallet.runtime.process.channel import Channel

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pallet._linux.system import System
    from pallet.runtime.process.setup import Setup


class Started:
    """What the parent learnt: the process's pid, its pty master (if it has a terminal)."""

    def __init__(self) -> None:
        self.pid = 0
        self.console_fd = -1


def _reap(pid: int) -> int:
    try:
        _, status = os.waitpid(pid, 0)
        return status
    except ChildProcessError:
        return 0


def _reap_if_ours(pid: int, timeout: float = 2.0) -> None:
    import time

    deadline = time.monotonic() + timeout
    while True:
        try:
            done, _ = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            return
        if done or time.monotonic() > deadline:
            return
        time.sleep(0.002)


def _late_init_pid(chan: Channel, timeout: float = 1.0) -> int:
    import select

    while select.select([chan.fileno()], [], [], timeout)[0]:
        try:
            msg, fds = chan.recv()
        except OSError:
            return 0
        for fd in fds:
            os.close(fd)
        if not msg:
            return 0
        if msg.get("type") == "init_pid":
            pid = msg.get("pid")
            return pid if isinstance(pid, int) else 0
    return 0


def _raise_pending_error(chan: Channel) -> None:
    """If the other end sent an error before it went away, raise it."""
    import select

    from pallet.runtime.process.channel import error_from_message

    while select.select([chan.fileno()], [], [], 0.5)[0]:
        try:
            msg, fds = chan.recv()
        except OSError:
            return
        for fd in fds:
            os.close(fd)
        if not msg:
            return
        if msg.get("type") == "error":
            raise error_from_message(msg)


def run_children(setup: Setup, sys: System | None, hooks_state: dict[str, object] | None = None) -> Started:
    """Fork the init itself (``setup.direct``), or start the intermediate child (hand the Setup to
    the one forked early, if there is one and ``sys`` is None: the real system; else fork it), and
    drive the protocol until the process is ready."""
    started = Started()
    if setup.direct:
        return _run_direct(setup, started, hooks_state)
    from pallet.runtime.process import prefork

    release = -1
    if not setup.is_exec:
        setup.release_fd, release = os.pipe2(os.O_CLOEXEC)
    early = prefork.take() if sys is None and not setup.is_exec else None
    try:
        handed = None
        if early is not None:
            try:
                handed = early.hand(setup)
            except OSError:
                early.discard()  # it died (killed, or failed to start): fork one now, as below
            except BaseException:
                early.discard()
                raise
        pid, parent = handed if handed is not None else _fork_intermediate(setup, sys, release)
    except BaseException:
        if release >= 0:
            os.close(release)
        raise
    finally:
        if setup.release_fd >= 0:
            os.close(setup.release_fd)
            setup.release_fd = -1
    try:
        _drive(setup, parent, started, pid, hooks_state, release)
    except BaseException:
        if not started.pid:
            # The init's error may have overtaken the intermediate's "init_pid": read what is left
            # on the channel to learn the pid, so that the process is reaped below.
            started.pid = _late_init_pid(parent)
        for p in (started.pid, pid):
            if p > 0:
                try:
                    os.kill(p, 9)  # SIGKILL (the signal module costs an enum import)
                except ProcessLookupError:
                    pass
        _reap(pid)
        if started.pid > 0:
            # As a subreaper (foreground run, exec) the killed process is our child: reap it, or its
            # zombie keeps the container's PID namespace (and cgroup) from going away.
            _reap_if_ours(started.pid)
        _drop_console(started)
        raise
    finally:
        parent.close()
        if release >= 0:
            os.close(release)
    return started


def _run_direct(setup: Setup, started: Started, hooks_state: dict[str, object] | None) -> Started:
    """create with no intermediate: enter the container's PID namespace for our children (make it,
    or join it by path), fork the init, and come back.  The init makes or joins its other
    namespaces itself (init.direct)."""
    from pallet._linux import consts as c
    from pallet._linux import ns as nscalls

    # What the init needs is imported here, before the fork, once: not after it, in the init, on the
    # way to its root filesystem (where every page it touched would be copied first).
    from pallet._linux.system import System
    from pallet.runtime.process import init

    init.preload(setup)
    plan = setup.ns
    assert plan is not None
    pid_join = plan.joined("pid")
    enter = plan.unshare & c.CLONE_NEWPID or pid_join is not None
    own = target = -1
    apart = _cpus_apart(setup)
    pid = 0
    parent, child = Channel.pair()
    try:
        if enter:
            try:
                own = os.open("/proc/self/ns/pid", os.O_RDONLY | os.O_CLOEXEC)
            except OSError as exc:
                raise RuntimeFailure(f"/proc/self/ns/pid cannot be opened: {exc.strerror}", step="fork") from None
            if pid_join is not None:
                from pallet.runtime.namespaces import open_path

                target = open_path(pid_join, "pid")
                nscalls.setns(target, c.CLONE_NEWPID)
            else:
                nscalls.unshare(c.CLONE_NEWPID)
        try:
            pid = os.fork()
            if pid == 0:
                parent.close()
                try:
                    init.direct(setup, child, System())
                finally:
                    os._exit(1)
        finally:
            if pid > 0:
                _move_apart(pid, apart)
            if own >= 0:
                nscalls.setns(own, c.CLONE_NEWPID)  # (our own later children stay in ours)
    except BaseException:
        parent.close()
        raise
    finally:
        for fd in (own, target):
            if fd >= 0:
                os.close(fd)
        child.close()
    started.pid = pid
    try:
        _drive(setup, parent, started, pid, hooks_state)
    except BaseException:
        try:
            os.kill(pid, 9)  # SIGKILL
        except ProcessLookupError:
            pass
        _reap(pid)
        _drop_console(started)
        raise
    finally:
        parent.close()
    return started


def _cpus_apart(setup: Setup) -> frozenset[int] | None:
    """This process's CPUs but the one it runs on, where there are others: the child about to be
    forked is moved to those at once (_move_apart), and the init takes back all of this process's
    CPUs (``setup.cpus``, set here; None where nothing moves) on "go" (init.Go).

    The kernel queues a forked child on its parent's CPU and moves it to an idle one only later:
    measured here, once the parent blocks, 2-3 ms on, while the parent makes the cgroup and saves
    the state.  Moved at once, the init builds its namespaces and root filesystem beside that work
    instead of after it."""
    from pallet._linux.host import sched_getcpu

    setup.cpus = None
    if setup.is_exec:
        return None
    mine = frozenset(os.sched_getaffinity(0))
    cpu = sched_getcpu()
    if cpu not in mine or len(mine) < 2:
        return None
    setup.cpus = mine
    return mine - {cpu}


def _move_apart(pid: int, apart: frozenset[int] | None) -> None:
    if apart is not None:
        try:
            os.sched_setaffinity(pid, apart)
        except OSError:
            pass  # (it stays where the kernel puts it, and takes back what it had on "go")


def _drop_console(started: Started) -> None:
    """A failed create: close the pty master the init sent, if it did."""
    if started.console_fd >= 0:
        os.close(started.console_fd)
        started.console_fd = -1


def _fork_intermediate(setup: Setup, sys: System | None, release: int) -> tuple[int, Channel]:
    apart = _cpus_apart(setup)  # (the init it forks takes them back on "go")
    parent, child = Channel.pair()
    pid = os.fork()
    if pid == 0:
        parent.close()
        if release >= 0:
            os.close(release)  # the parent's end: the intermediate sees EOF if the parent dies
        try:
            # Imported by the child, beside the parent's own work (the parent never needs it).
            from pallet._linux.system import System
            from pallet.runtime.process import init

            if setup.is_exec:
                init.exec_child(setup, child, sys or System())
            else:
                init.intermediate(setup, child, sys or System())
        finally:
            os._exit(1)
    _move_apart(pid, apart)
    child.close()
    return pid, parent


def _cgroup_pending(setup: Setup) -> bool:
    """create: the cgroup is still to be made (exec joins the container's)."""
    return setup.cgroup is not None and not setup.is_exec and not setup.made_cgroup


def make_cgroup(setup: Setup) -> None:
    """Create the container's cgroup and write its limits, while it is still empty: a process moved
    in later (the init, busy with its root filesystem and device nodes) never sees the device rules
    half written."""
    from pallet.runtime import log

    assert setup.cgroup is not None
    setup.cgroup.create()
    setup.made_cgroup = True
    log.step("cgroup created")
    setup.cgroup.set(setup.resources)
    log.step("resources set")


def _go(setup: Setup, chan: Channel, init_pid: int) -> None:
    """Make the cgroup (if still to be made), put the init in it (unless it joins it itself), and
    tell it "go".  The init builds the root filesystem meanwhile (the cgroup's mkdirs and a
    cgroup.procs write may wait for an RCU grace period: milliseconds); it waits for "go" only
    before its cgroup namespace, its cgroup mounts and anything it runs."""
    from pallet.runtime import log

    try:
        if _cgroup_pending(setup):
            make_cgroup(setup)
        if setup.cgroup is not None and not setup.cgroup.self_joins:
            setup.cgroup.add(init_pid)
            log.step("init placed in the cgroup")
        chan.send("go")
    except OSError:
        # The init may have failed (and exited) meanwhile: its error is the one to tell.
        _raise_pending_error(chan)
        raise


def _release(setup: Setup, release: int) -> None:
    """Let the intermediate exit: once this process is the subreaper of its orphan (foreground)."""
    if setup.subreaper:
        from pallet._linux.prctl import set_child_subreaper

        set_child_subreaper(True)
    os.write(release, b"x")


def _drive(setup: Setup, chan: Channel, started: Started, ipid: int, hooks_state: dict[str, object] | None,
           release: int = -1) -> None:
    from pallet.runtime import log

    who = "the container's init"
    log.step(f"forked {ipid}")
    self_joins = setup.cgroup is not None and setup.cgroup.self_joins
    if setup.direct:
        # The init (our child) makes its namespaces and root filesystem meanwhile; it joins the
        # cgroup itself on "go" where it self_joins.
        _go(setup, chan, started.pid)
    elif _cgroup_pending(setup) and (self_joins or not (setup.ns is not None and setup.ns.new_user)):
        # While the children make the namespaces and the root filesystem: the mkdirs may wait for
        # the kernel's cgroup lock (held by a migration warm-up while it waits for a grace period).
        # (With a new user namespace the intermediate first needs its id maps, unless it joins the
        # cgroup itself, which it then does first.)
        make_cgroup(setup)
        if self_joins:
            chan.send("cgroup_made")
    if setup.is_exec:
        # exec: the child is in the cgroup before it forks the process
        if setup.cgroup is not None and not setup.cgroup.self_joins:
            setup.cgroup.add(ipid)
            log.step("placed in the cgroup")
        chan.send("go")
    # Messages come from two processes (the intermediate and the init) on one socket, so the init's
    # may overtake the intermediate's "init_pid": hold them back until the pid is known.
    deferred: list[tuple[dict[str, object], list[int]]] = []
    while True:
        if deferred and started.pid:
            msg, fds = deferred.pop(0)
        else:
            msg, fds = chan.expect(
                "userns", "init_pid", "hooks", "console", "seccomp_listener", "ready", who=who
            )
        mtype = msg["type"]
        if not started.pid and mtype in ("hooks", "console", "seccomp_listener", "ready"):
            deferred.append((msg, fds))
            continue
        if mtype == "userns":
            from pallet.runtime.namespaces import write_id_maps

            write_id_maps(ipid, setup.linux.get("uidMappings") or [], setup.linux.get("gidMappings") or [])  # type: ignore[arg-type]
            chan.send("maps_done")
            if _cgroup_pending(setup):
                make_cgroup(setup)
        elif mtype == "init_pid":
            started.pid = int(msg["pid"])  # type: ignore[call-overload]
            log.step(f"init is {started.pid}")
            if release >= 0:
                _release(setup, release)
            status = _reap(ipid)
            if status != 0 and not started.pid:
                raise RuntimeFailure("the intermediate process failed", step="fork")
            if not setup.is_exec:
                _go(setup, chan, started.pid)
        elif mtype == "hooks":
            from pallet.runtime import hooks

            state = dict(hooks_state or {})
            state["pid"] = started.pid
            state["status"] = "creating"
            hooks.run_hooks(setup.config, "prestart", state)
            hooks.run_hooks(setup.config, "createRuntime", state)
            chan.send("hooks_done")
        elif mtype == "console":
            if not fds:
                raise RuntimeFailure("the console message carried no pty", step="console")
            started.console_fd = fds[0]
            for extra in fds[1:]:
                os.close(extra)
        elif mtype == "seccomp_listener":
            from pallet.runtime import seccomp

            seccomp_spec = setup.linux.get("seccomp") or {}
            assert isinstance(seccomp_spec, dict)
            state = dict(hooks_state or {})
            state["pid"] = started.pid
            try:
                seccomp.send_listener(fds[0], str(seccomp_spec.get("listenerPath", "")), state,
                                      str(seccomp_spec.get("listenerMetadata", "")))
            finally:
                for fd in fds:
                    os.close(fd)
        elif mtype == "ready":
            return
