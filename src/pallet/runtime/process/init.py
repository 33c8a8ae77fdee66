"""The container's side of create and exec: what runs in the forked children, up to execve.

Where the runtime forks the init itself (``direct``: no user or time namespace, see
NamespacePlan.runtime_forks_init), the init is born in the container's PID namespace, makes or
joins the other namespaces, and goes on as ``container_init``.  Otherwise ``intermediate`` runs in
the first child: it joins or creates the namespaces (the user namespace first, with its id maps
written by the parent), then forks ``container_init``, which becomes PID 1 of a new PID namespace.
``container_init`` builds the root filesystem, switches to the container's user and privileges,
reports ``ready`` and waits on exec.fifo for ``start``; then it loads the seccomp filter, last, and
execs the container's process.  ``exec_child`` does the same for a process joining a running
container.  Nothing here returns: each ends in execve or os._exit.

Any exception is sent to the parent as an ``error`` message naming the step; the parent prints it.
"""

from __future__ import annotations

import os

from pallet._linux import consts as c
from pallet._linux import prctl
from pallet.errors import CommandNotFound, CommandNotInvokable, ConfigError, RuntimeFailure

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pallet._linux.system import System
    from pallet.runtime.cgroups import CgroupManager
    from pallet.runtime.process.channel import Channel
    from pallet.runtime.process.setup import Setup
    from pallet.runtime.rootfs.mounts import MountContext

DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

_RLIMITS = {
    "RLIMIT_CPU": 0, "RLIMIT_FSIZE": 1, "RLIMIT_DATA": 2, "RLIMIT_STACK": 3, "RLIMIT_CORE": 4,
    "RLIMIT_RSS": 5, "RLIMIT_NPROC": 6, "RLIMIT_NOFILE": 7, "RLIMIT_MEMLOCK": 8, "RLIMIT_AS": 9,
    "RLIMIT_LOCKS": 10, "RLIMIT_SIGPENDING": 11, "RLIMIT_MSGQUEUE": 12, "RLIMIT_NICE": 13,
    "RLIMIT_RTPRIO": 14, "RLIMIT_RTTIME": 15,
}


def preload(setup: Setup) -> None:
    """Import now every module needed after the root changes, then cut the import path.

    After pivot_root (or setns into the container's mount namespace) the host's sys.path names
    directories inside the container: an import would then fail, or worse, run the image's code.
    """
    # (The children may be forked before the parent imported anything of its own: process.prefork.
    # Name here every module that they import after the root changes, lazily imported ones too.)
    from pallet._linux import host, mount  # noqa: F401
    from pallet.oci import mountopts  # noqa: F401
    from pallet.runtime import hooks, log  # noqa: F401
    from pallet.runtime.rootfs import devices, finalize, mounts  # noqa: F401

    if setup.terminal:
        from pallet.runtime import console  # noqa: F401
    if setup.caps is not None:
        from pallet._linux import caps  # noqa: F401
        from pallet.runtime import capabilities  # noqa: F401
    if setup.seccomp is not None:
        from pallet._linux import seccomp as seccomp_calls  # noqa: F401
        from pallet.runtime import seccomp  # noqa: F401
    if setup.process.get("apparmorProfile") or setup.process.get("selinuxLabel"):
        from pallet.runtime import lsm  # noqa: F401
    if hooks.has_hooks(setup.config, "createContainer", "startContainer"):
        import signal  # noqa: F401
        import subprocess  # noqa: F401


def cut_import_path() -> None:
    import sys

    sys.path.clear()
    sys.path_importer_cache.clear()
    # The launchers' module index names host paths: inside the container's root they would name the
    # container's files.  (Loaded already if a launcher installed it: nothing is imported here.)
    modindex = sys.modules.get("pallet.modindex")
    if modindex is not None:
        modindex.uninstall()


class Step:
    """The step being carried out, for error messages."""

    name = "start"


def preforked(chan: Channel) -> None:
    """A child forked before its Setup was made (process.prefork): import what the children need,
    wait for the Setup, then be the intermediate.  Never returns; exits quietly when the parent goes
    on without it (it discards it: SIGKILL, or the channel closed)."""
    try:
        # What every create needs in its children (preload adds what this one's config asks for).
        from pallet._linux import caps, host, mount, netdev  # noqa: F401
        from pallet._linux.system import System
        from pallet.oci import mountopts  # noqa: F401
        from pallet.runtime import capabilities, hooks, log, namespaces  # noqa: F401
        from pallet.runtime.cgroups import load_manager, v1, v2  # noqa: F401
        from pallet.runtime.process.setup import from_wire
        from pallet.runtime.rootfs import devices, finalize, mounts  # noqa: F401

        data, fds = chan.recv_blob("setup", who="pallet-runtime")
    except BaseException:
        os._exit(0)  # discarded (or unable to start: the parent forks another when it hands over)
    try:
        setup = from_wire(data, fds)
    except BaseException as exc:
        chan.send_error(exc, "receive the set-up")
        os._exit(1)
    intermediate(setup, chan, System())


def direct(setup: Setup, chan: Channel, sys: System) -> None:
    """The init, forked by the runtime into the container's PID namespace: the other namespaces,
    then ``container_init``.  Never returns.  (It joins its cgroup on "go": Go.)"""
    step = Step()
    try:
        plan = setup.ns
        assert plan is not None
        from pallet.runtime import namespaces

        prctl.set_dumpable(False)
        step.name = "join namespaces"
        namespaces.join(sys, namespaces.open_joins(plan, skip=("pid",)))
        _make_namespaces(setup, sys, step, plan.unshare & ~(c.CLONE_NEWCGROUP | c.CLONE_NEWPID))
    except BaseException as exc:
        chan.send_error(exc, step.name)
        os._exit(1)
    container_init(setup, chan, sys)


def _make_namespaces(setup: Setup, sys: System, step: Step, flags: int) -> None:
    """unshare ``flags``; a new network namespace's loopback up; a new time namespace's offsets."""
    plan = setup.ns
    assert plan is not None
    if flags:
        step.name = "create namespaces"
        sys.unshare(flags)
    if plan.is_new("network"):
        # As runc and crun do: a new network namespace comes with its loopback up.
        from pallet._linux.netdev import link_up

        step.name = "bring up lo in the new network namespace"
        link_up("lo")
    offsets = setup.linux.get("timeOffsets")
    if offsets and plan.is_new("time"):
        step.name = "linux.timeOffsets"
        _write_time_offsets(offsets)


def intermediate(setup: Setup, chan: Channel, sys: System) -> None:
    """The first child: namespaces, then fork the init.  Never returns.

    It makes every namespace but the cgroup namespace (which is rooted at the cgroup a process is
    in: the init makes it once the parent has placed it), forks the init and reports its pid.
    """
    step = Step()
    try:
        plan = setup.ns
        assert plan is not None
        # The parent makes the cgroup meanwhile, and says when; the init forked below is born in
        # it.  Joined before any namespace where a user namespace is made, or a mount, user or
        # cgroup namespace joined by path (the host's cgroup files may no longer be reachable, or
        # writable), else after the new namespaces are made.
        joins_self = setup.cgroup is not None and setup.cgroup.self_joins
        if joins_self and (plan.new_user or any(plan.joined(kind) for kind in ("mount", "user", "cgroup"))):
            _join_cgroup(setup, chan, step)
            joins_self = False
        preload(setup)
        from pallet.runtime import namespaces

        prctl.set_dumpable(False)
        step.name = "join namespaces"
        namespaces.join(sys, namespaces.open_joins(plan))
        if plan.new_user:
            step.name = "create the user namespace"
            sys.unshare(c.CLONE_NEWUSER)
            chan.send("userns")
            chan.expect("maps_done", who="pallet-runtime")
            os.setresgid(0, 0, 0)
            os.setresuid(0, 0, 0)
        _make_namespaces(setup, sys, step, plan.unshare & ~c.CLONE_NEWCGROUP)
        if joins_self:
            _join_cgroup(setup, chan, step)
        step.name = "fork the container's init"
        pid = os.fork()
        if pid == 0:
            if setup.release_fd >= 0:
                os.close(setup.release_fd)
            container_init(setup, chan, sys)
        chan.send("init_pid", pid=pid)
        if setup.release_fd >= 0:
            os.read(setup.release_fd, 1)  # the parent is ready for the orphan (or gone)
        os._exit(0)
    except BaseException as exc:
        chan.send_error(exc, step.name)
        os._exit(1)


def _join_cgroup(setup: Setup, chan: Channel, step: Step) -> None:
    assert setup.cgroup is not None
    step.name = "wait for the cgroup"
    chan.expect("cgroup_made", who="pallet-runtime")
    step.name = "join the cgroup"
    setup.cgroup.join_self()


def _write_time_offsets(offsets: object) -> None:
    assert isinstance(offsets, dict)
    lines = []
    for clock, name in (("monotonic", "monotonic"), ("boottime", "boottime")):
        o = offsets.get(clock)
        if isinstance(o, dict):
            lines.append(f"{name} {int(o.get('secs', 0))} {int(o.get('nanosecs', 0))}\n")
    fd = os.open("/proc/self/timens_offsets", os.O_WRONLY | os.O_CLOEXEC)
    try:
        for line in lines:
            os.write(fd, line.encode())
    finally:
        os.close(fd)


class Go:
    """The parent's "go": the init is in its cgroup (or, forked by the runtime itself on a host where
    it self_joins, the cgroup is made: the init joins it now).  Waited for (once) before the cgroup
    namespace is made, before cgroup mounts and before anything is run (hooks, the process)."""

    def __init__(self, chan: Channel, sys: System, new_cgroupns: bool, join: CgroupManager | None = None,
                 cpus: frozenset[int] | None = None) -> None:
        self.chan = chan
        self.sys = sys
        self.new_cgroupns = new_cgroupns
        self.join = join
        self.cpus = cpus  # the runtime's, taken back (see parent._cpus_apart)
        self.done = False

    def __call__(self) -> None:
        if self.done:
            return
        self.chan.expect("go", who="pallet-runtime")
        if self.cpus is not None:
            # After "go": the runtime has surely moved us by now.  Before the cgroup: a cpuset
            # cgroup narrows the mask again as it is joined.
            os.sched_setaffinity(0, self.cpus)
        if self.join is not None:
            self.join.join_self()
        if self.new_cgroupns:
            self.sys.unshare(c.CLONE_NEWCGROUP)
        self.done = True


def container_init(setup: Setup, chan: Channel, sys: System) -> None:
    """PID 1 of the container, up to execve.  Never returns."""
    step = Step()
    try:
        prctl.set_dumpable(False)
        os.setsid()
        step.name = "keyring"
        if not setup.no_new_keyring:
            _join_keyring(setup.cid)
        plan = setup.ns
        assert plan is not None
        if not plan.has("mount"):
            raise ConfigError("linux.namespaces must include a mount namespace (pallet-runtime needs one)")
        ctx = _build_rootfs(setup, chan, sys, step)
        master_slave = None
        if setup.terminal:
            step.name = "console"
            master_slave = _setup_console(setup, chan, sys, bind_console=True)
        step.name = "hostname"
        hostname = setup.config.get("hostname")
        if hostname:
            sys.sethostname(str(hostname))
        domainname = setup.config.get("domainname")
        if domainname:
            sys.setdomainname(str(domainname))
        step.name = "linux.sysctl"
        sysctl = setup.linux.get("sysctl") or {}
        assert isinstance(sysctl, dict)
        for key, value in sysctl.items():
            path = "/proc/sys/" + str(key).replace(".", "/")
            try:
                sys.write_file(path, str(value))
            except OSError as exc:
                raise ConfigError(f"linux.sysctl {key}={value!r} cannot be set: {exc.strerror}") from None
        from pallet.runtime.rootfs import finalize

        step.name = "linux.readonlyPaths"
        finalize.readonly_paths(sys, [str(p) for p in setup.linux.get("readonlyPaths") or []])  # type: ignore[attr-defined]
        step.name = "linux.maskedPaths"
        finalize.mask_paths(sys, [str(p) for p in setup.linux.get("maskedPaths") or []])  # type: ignore[attr-defined]
        if setup.late_go:
            step.name = "wait for the cgroup"
            assert ctx.before_cgroup is not None
            ctx.before_cgroup()
            step.name = "cgroup mounts"
            from pallet.runtime.rootfs.mounts import mount_deferred

            mount_deferred(sys, ctx)
        if setup.readonly_root:
            step.name = "root.readonly"
            finalize.readonly_root(sys)
        prepare_process(setup, chan, step, master_slave, is_init=True)
    except BaseException as exc:
        chan.send_error(exc, step.name)
        os._exit(1)


def _join_keyring(cid: str) -> None:
    from pallet._linux.host import join_session_keyring

    try:
        join_session_keyring(f"_ses.{cid}"[:200])
    except OSError as exc:
        if exc.errno not in (38, 1, 13):  # no keyctl, or denied by a seccomp profile: go on as runc does
            raise


def _build_rootfs(setup: Setup, chan: Channel, sys: System, step: Step) -> MountContext:
    from pallet.runtime import hooks
    from pallet.runtime.rootfs import devices, finalize, mounts

    plan = setup.ns
    assert plan is not None
    joins_self = setup.direct and setup.cgroup is not None and setup.cgroup.self_joins
    go = Go(chan, sys, bool(plan.unshare & c.CLONE_NEWCGROUP), setup.cgroup if joins_self else None, setup.cpus)
    rootfs = setup.rootfs
    step.name = "linux.rootfsPropagation"
    prop = setup.linux.get("rootfsPropagation")
    mounts.prepare_root(sys, rootfs, str(prop) if prop else None)
    ctx = mounts.MountContext(
        new_cgroupns=plan.is_new("cgroup") or any(f == c.CLONE_NEWCGROUP for f, _, _ in plan.joins),
        new_netns=plan.has("network"),
        new_ipcns=plan.has("ipc"),
        in_userns=plan.has("user"),
        cgroup_paths=setup.cgroup.paths() if setup.cgroup is not None else {},
        mount_label=str(setup.linux.get("mountLabel") or "") or None,
        idmap_fds=setup.idmap_fds,
        before_cgroup=go,
    )
    ctx.defer_cgroup = setup.late_go
    step.name = "mounts"
    config_mounts = setup.config.get("mounts") or []
    assert isinstance(config_mounts, list)
    mounts.mount_all(sys, rootfs, config_mounts, ctx)
    dev_is_bind = any(
        str(m.get("destination", "")).rstrip("/") == "/dev" and ("bind" in (m.get("options") or []) or "rbind" in (m.get("options") or []))
        for m in config_mounts
    )
    if not dev_is_bind:
        step.name = "linux.devices"
        devs = setup.linux.get("devices") or []
        assert isinstance(devs, list)
        devices.create_devices(sys, rootfs, devs, bind=plan.has("user"))
        has_pts = any(str(m.get("destination", "")).rstrip("/") == "/dev/pts" for m in config_mounts)
        devices.create_links(rootfs, with_ptmx=has_pts)
    if not setup.late_go:
        step.name = "wait for the cgroup"
        go()
    if hooks.has_hooks(setup.config, "prestart", "createRuntime"):
        step.name = "hooks (prestart, createRuntime)"
        chan.send("hooks")
        chan.expect("hooks_done", who="pallet-runtime")
    if hooks.has_hooks(setup.config, "createContainer"):
        step.name = "hooks.createContainer"
        hooks.run_hooks(setup.config, "createContainer", _state(setup, "created"))
    step.name = "pivot_root"
    if setup.no_pivot:
        finalize.move_root(sys, rootfs)
    else:
        finalize.pivot_root(sys, rootfs)
    cut_import_path()
    return ctx


def _state(setup: Setup, status: str) -> dict[str, object]:
    return {
        "ociVersion": str(setup.config.get("ociVersion", "1.2.0")),
        "id": setup.cid,
        "status": status,
        "pid": os.getpid(),
        "bundle": setup.bundle,
        "annotations": setup.config.get("annotations") or {},
    }


def _setup_console(setup: Setup, chan: Channel, sys: System, bind_console: bool) -> tuple[int, int]:
    from pallet.runtime import console

    size = setup.process.get("consoleSize")
    master, slave, path = console.open_pty(size if isinstance(size, dict) else None)
    if bind_console:
        target = "/dev/console"
        if not os.path.exists(target):
            os.close(os.open(target, os.O_CREAT | os.O_WRONLY | os.O_CLOEXEC, 0o600))
        sys.mount(path, target, None, c.MS_BIND)
    chan.send("console", fds=[master])
    os.close(master)
    return master, slave


def prepare_process(
    setup: Setup, chan: Channel, step: Step, master_slave: tuple[int, int] | None, *, is_init: bool
) -> None:
    """From the container's root: limits, user, privileges, cwd; then wait for start and exec."""
    process = setup.process
    step.name = "process.oomScoreAdj"
    oom = process.get("oomScoreAdj")
    if oom is not None:
        try:
            with open("/proc/self/oom_score_adj", "w") as f:
                f.write(str(oom))
        except OSError as exc:
            raise ConfigError(f"process.oomScoreAdj {oom} cannot be set: {exc.strerror}"
                              " (lowering it needs CAP_SYS_RESOURCE)") from None
    step.name = "process.rlimits"
    rlimits = process.get("rlimits") or []
    assert isinstance(rlimits, list)
    if rlimits:
        from pallet._linux.host import prlimit  # preloaded
    for i, rl in enumerate(rlimits):
        kind = str(rl.get("type"))
        if kind not in _RLIMITS:
            raise ConfigError(f"process.rlimits[{i}].type {kind!r} is not a resource limit")
        soft, hard = int(rl.get("soft", 0)), int(rl.get("hard", 0))
        try:
            prlimit(_RLIMITS[kind], (soft, hard))
        except OSError as exc:
            now = prlimit(_RLIMITS[kind])
            raise ConfigError(
                f"process.rlimits[{i}] {kind} soft={soft} hard={hard} cannot be set (the current hard limit is "
                f"{now[1]}; raising it needs CAP_SYS_RESOURCE): {os.strerror(exc.errno or 0)}") from None
    personality = setup.linux.get("personality")
    if isinstance(personality, dict) and personality.get("domain"):
        from pallet._linux.host import personality as set_personality

        step.name = "linux.personality"
        set_personality(c.PER_LINUX32 if personality["domain"] == "LINUX32" else c.PER_LINUX)
    if master_slave is not None:
        step.name = "console"
        from pallet.runtime.console import make_controlling

        make_controlling(master_slave[1])
    step.name = "process.user"
    user = process.get("user") or {}
    assert isinstance(user, dict)
    uid = int(user.get("uid", 0))
    gid = int(user.get("gid", 0))
    extra = [int(g) for g in user.get("additionalGids") or []]
    caps = setup.caps
    seccomp = setup.seccomp
    notify = seccomp is not None and bool(getattr(seccomp, "has_notify", False))
    early_seccomp = seccomp is not None and not process.get("noNewPrivileges")
    if early_seccomp:
        # Without no_new_privs, loading a filter needs CAP_SYS_ADMIN: load it before privileges go
        # (as runc does); the profile must then allow the remaining set-up calls.
        step.name = "linux.seccomp"
        _load_seccomp(seccomp, chan, notify)
    if caps is not None:
        from pallet.runtime import capabilities

        step.name = "process.capabilities"
        capabilities.prepare_uid_switch()
        capabilities.drop_bounding(caps)  # type: ignore[arg-type]
    step.name = "process.user"
    try:
        os.setgroups(extra)
    except PermissionError:
        if extra or not (setup.ns is not None and setup.ns.has("user")):
            raise
    os.setresgid(gid, gid, gid)
    os.setresuid(uid, uid, uid)
    if caps is not None:
        from pallet.runtime import capabilities

        step.name = "process.capabilities"
        capabilities.apply(caps, warn=_quiet)  # type: ignore[arg-type]
    if process.get("apparmorProfile") or process.get("selinuxLabel"):
        step.name = "process labels"
        from pallet.runtime import lsm

        lsm.apply_exec_labels(process)
    if process.get("noNewPrivileges"):
        step.name = "process.noNewPrivileges"
        prctl.set_no_new_privs()
    umask = user.get("umask")
    os.umask(int(umask) if isinstance(umask, int) else 0o022)
    step.name = "process.cwd"
    cwd = str(process.get("cwd") or "/")
    try:
        os.chdir(cwd)
    except FileNotFoundError:
        raise ConfigError(f"process.cwd {cwd!r} does not exist in the container") from None
    except NotADirectoryError:
        raise ConfigError(f"process.cwd {cwd!r} is not a directory in the container") from None
    except PermissionError:
        raise ConfigError(f"process.cwd {cwd!r} is not accessible to uid {uid} in the container") from None
    if not os.getcwd().startswith("/"):
        raise ConfigError(f"process.cwd {cwd!r} is outside the container's root")
    step.name = "process.args"
    args = [str(a) for a in process.get("args") or []]  # type: ignore[attr-defined]
    env = _environ(process, uid)
    path = find_executable(args[0], env.get("PATH", DEFAULT_PATH))
    if notify and not early_seccomp:
        step.name = "linux.seccomp"
        _load_seccomp(seccomp, chan, notify)
    step.name = "close fds"
    _close_fds(setup.preserve_fds, keep=(chan.fileno(), setup.fifo_fd))
    chan.send("ready", pid=os.getpid())
    chan.close()
    if is_init:
        step.name = "wait for start"
        fd = os.open(f"/proc/self/fd/{setup.fifo_fd}", os.O_WRONLY | os.O_CLOEXEC)
        os.write(fd, b"0")
        os.close(fd)
        os.close(setup.fifo_fd)
        from pallet.runtime import hooks

        if hooks.has_hooks(setup.config, "startContainer"):
            step.name = "hooks.startContainer"
            hooks.run_hooks(setup.config, "startContainer", _state(setup, "running"))
    if seccomp is not None and not notify and not early_seccomp:
        step.name = "linux.seccomp"
        _load_seccomp(seccomp, chan, notify)
    try:
        os.execve(path, args, env)
    except OSError as exc:
        _exec_failed(args[0], exc)


def _load_seccomp(seccomp: object, chan: Channel, notify: bool) -> None:
    from pallet.runtime import seccomp as seccomp_mod

    listener = seccomp_mod.load_filter(seccomp)  # type: ignore[arg-type]
    if listener is not None:
        if notify:
            chan.send("seccomp_listener", fds=[listener])
        os.close(listener)


def _exec_failed(name: str, exc: OSError) -> None:
    """After ready there is no channel: say it on the container's stderr and exit like a shell."""
    code = 127 if exc.errno == 2 else 126
    try:
        os.write(2, f"pallet-runtime: exec {name!r} failed: {exc.strerror}\n".encode())
    finally:
        os._exit(code)


def _environ(process: dict[str, object], uid: int) -> dict[str, str]:
    env: dict[str, str] = {}
    for item in process.get("env") or []:  # type: ignore[attr-defined]
        k, _, v = str(item).partition("=")
        env[k] = v
    if "HOME" not in env:
        env["HOME"] = _home_of(uid)
    return env


def _home_of(uid: int) -> str:
    """HOME from the container's /etc/passwd (read as data, never through NSS), else "/"."""
    try:
        with open("/etc/passwd", "rb") as f:
            for line in f:
                fields = line.decode(errors="replace").rstrip("\n").split(":")
                if len(fields) >= 6 and fields[2] == str(uid):
                    return fields[5] or "/"
    except OSError:
        pass
    return "/"


def find_executable(name: str, path_env: str) -> str:
    """The file that execve will run, found as a shell would; errors give docker's exit codes."""
    if "/" in name:
        return _check_executable(name, name)
    for directory in path_env.split(":"):
        candidate = os.path.join(directory or ".", name)
        try:
            st = os.stat(candidate)
        except OSError:
            continue
        if (st.st_mode & 0o170000) == 0o100000 and os.access(candidate, os.X_OK):
            return candidate
    raise CommandNotFound(f'exec: "{name}": executable file not found in $PATH', step="process.args")


def _check_executable(name: str, path: str) -> str:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise CommandNotFound(f'exec: "{name}": stat {path}: no such file or directory', step="process.args") from None
    except OSError as exc:
        raise CommandNotInvokable(f'exec: "{name}": {exc.strerror}', step="process.args") from None
    if (st.st_mode & 0o170000) == 0o040000:
        raise CommandNotInvokable(f'exec: "{name}": is a directory', step="process.args")
    if not os.access(path, os.X_OK):
        raise CommandNotInvokable(f'exec: "{name}": permission denied', step="process.args")
    return path


def _close_fds(preserve: int, keep: tuple[int, ...]) -> None:
    """Every fd from 3 on is closed at exec, except the ones to preserve (3 .. 3+preserve-1)."""
    first = 3 + preserve
    try:
        from pallet._linux.host import close_range

        close_range(first, 0xFFFFFFFF, c.CLOSE_RANGE_CLOEXEC)
    except OSError:
        for name in os.listdir("/proc/self/fd"):
            fd = int(name)
            if fd >= first:
                try:
                    os.set_inheritable(fd, False)
                except OSError:
                    pass
    for fd in range(3, first):
        try:
            os.set_inheritable(fd, True)
        except OSError:
            pass
    del keep


def exec_child(setup: Setup, chan: Channel, sys: System) -> None:
    """A process joining a running container (pallet-runtime exec).  Never returns."""
    step = Step()
    try:
        if setup.cgroup is not None and setup.cgroup.self_joins:
            step.name = "join the container's cgroup"
            setup.cgroup.join_self()
        preload(setup)
        prctl.set_dumpable(False)
        step.name = "join the container's namespaces"
        if setup.join_flags:
            sys.setns(setup.join_pidfd, setup.join_flags)
        cut_import_path()
        step.name = "wait for the parent"
        chan.expect("go", who="pallet-runtime")
        os.close(setup.join_pidfd)
        pid = os.fork()
        if pid == 0:
            try:
                if setup.terminal or not setup.detach:
                    os.setsid()
                master_slave = None
                if setup.terminal:
                    step.name = "console"
                    master_slave = _setup_console(setup, chan, sys, bind_console=False)
                prepare_process(setup, chan, step, master_slave, is_init=False)
            except BaseException as exc:
                chan.send_error(exc, step.name)
                os._exit(1)
        chan.send("init_pid", pid=pid)
        os._exit(0)
    except BaseException as exc:
        if not isinstance(exc, (RuntimeFailure, ConfigError, OSError)):
            exc = RuntimeFailure(repr(exc))
        chan.send_error(exc, step.name)
        os._exit(1)


def _quiet(message: str) -> None:
    """Capability warnings of the init go to the runtime's debug log, not the container's stderr."""
    from pallet.runtime import log

    log.debug(message)
