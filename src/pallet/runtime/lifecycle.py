"""The runtime as a library: create, start, kill, delete, run, exec.

This is what the CLI commands call, and what the engine calls in-process.  Every operation that
fails undoes what it made: no state directory, mount, cgroup or process is left behind.
"""

from __future__ import annotations

import os
import time

from pallet import fastjson
from pallet.errors import ConfigError, NotFoundError, RuntimeFailure, StateError
from pallet.runtime import statedir
from pallet.runtime.container import Container

# Signal numbers without the signal module (it imports enum: milliseconds on every start).
SIGKILL = 9
_NOT_FORWARDED = (9, 17, 19, 23, 28)  # SIGKILL, SIGCHLD, SIGSTOP, SIGURG, SIGWINCH

TYPE_CHECKING = False
if TYPE_CHECKING:

    from pallet._linux.system import System
    from pallet.runtime.process.parent import Started
    from pallet.runtime.process.setup import Setup


class CreateOptions:
    """The flags of create and run."""

    def __init__(
        self,
        *,
        pid_file: str = "",
        console_socket: str = "",
        no_pivot: bool = False,
        no_new_keyring: bool = False,
        preserve_fds: int = 0,
    ) -> None:
        self.pid_file = pid_file
        self.console_socket = console_socket
        self.no_pivot = no_pivot
        self.no_new_keyring = no_new_keyring
        self.preserve_fds = preserve_fds


def _now() -> str:
    t = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + f"{t % 1:.9f}"[1:] + "Z"


def load_bundle(bundle: str) -> dict[str, object]:
    """Read and validate <bundle>/config.json."""
    from pallet.oci.validate import validate_config

    path = os.path.join(bundle, "config.json")
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except FileNotFoundError:
        raise ConfigError(f"{path} does not exist (is --bundle {bundle!r} an OCI bundle?)") from None
    except OSError as exc:
        raise ConfigError(f"{path} cannot be read: {exc.strerror}") from None
    try:
        config = fastjson.loads(raw)
    except ValueError as exc:
        raise ConfigError(f"{path} is not valid JSON: {exc}") from None
    validate_config(config, bundle=bundle)
    assert isinstance(config, dict)
    checked: dict[str, object] = config
    return checked


def validate_id(cid: str) -> None:
    from pallet.oci.validate import validate_container_id

    validate_container_id(cid)


def _write_pid_file(path: str, pid: int) -> None:
    if not path:
        return
    from pallet.atomicfile import write_atomic

    write_atomic(path, str(pid))


def _prepare(cid: str, config: dict[str, object], bundle: str, root: str) -> Setup:
    """Work out in the parent everything the children need."""
    from pallet.runtime import namespaces
    from pallet.runtime.process.setup import Setup

    setup = Setup(cid, config, bundle)
    if not os.path.isdir(setup.rootfs):
        rootdoc = config.get("root") or {}
        path = rootdoc.get("path") if isinstance(rootdoc, dict) else None
        raise ConfigError(f"root.path {path!r} does not exist in bundle {bundle} (looked for {setup.rootfs})")
    setup.ns = namespaces.plan(setup.linux.get("namespaces") or [])  # type: ignore[arg-type]
    caps = setup.process.get("capabilities")
    if caps is not None:
        from pallet.runtime import capabilities

        setup.caps = capabilities.parse_capabilities(caps)  # type: ignore[arg-type]
    seccomp = setup.linux.get("seccomp")
    if seccomp:
        from pallet.runtime import seccomp as seccomp_mod

        setup.seccomp = seccomp_mod.compile_filter(
            seccomp, cache_dir=os.path.join(root, statedir.SECCOMP_CACHE))  # type: ignore[arg-type]
    if setup.process.get("apparmorProfile") or setup.process.get("selinuxLabel") or setup.linux.get("mountLabel"):
        from pallet.runtime import lsm

        lsm.check_labels(setup.process, setup.linux)
    return setup


def container_resources(linux: dict[str, object]) -> dict[str, object]:
    """linux.resources with the device rules every container gets (as runc adds its defaults):
    deny all, the spec's rules, an allow rule for each of linux.devices, then the standard devices."""
    from pallet.runtime.cgroups import container_device_rules

    resources = dict(linux.get("resources") or {})  # type: ignore[call-overload]
    rules = list(resources.get("devices") or [])
    for d in linux.get("devices") or []:  # type: ignore[attr-defined]
        if isinstance(d, dict) and d.get("type") in ("c", "b", "u"):
            rules.append({"allow": True, "type": "c" if d["type"] == "u" else d["type"],
                          "major": d.get("major"), "minor": d.get("minor"), "access": "rwm"})
    resources["devices"] = container_device_rules(rules)
    out: dict[str, object] = resources
    return out


def create(
    root: str, cid: str, bundle: str, opts: CreateOptions | None = None, *, sys: System | None = None,
    keep_console: bool = False, durable: bool = True, config: dict[str, object] | None = None,
    subreaper: bool = False,
) -> tuple[Container, Started]:
    """Create a container: set up everything, leave its init waiting for start.

    With ``keep_console`` the pty master stays with the caller (foreground run) instead of being sent
    to the console socket.  ``config`` is the bundle's config.json as the caller has just written it
    (the engine's in-process runtime, with its own 64-hex ids): it is used as it is, neither read
    again nor validated (the engine's specs are validated by its tests); otherwise the id is checked
    and config.json is read and validated.  With ``subreaper`` this process makes itself the
    subreaper of the init before the intermediate exits (the init becomes its child: to wait for).
    """
    from pallet.runtime import log

    opts = opts or CreateOptions()
    log.step("create")
    from pallet.runtime.cgroups.warmup import start_warmup, stop_warmup

    # On a pure v2 host (and a hybrid one whose init is systemd) the first move into the container's
    # cgroup waits for the kernel (see cgroups.warmup): let that wait run now, beside reading the
    # config and working out the plan.
    start_warmup()
    try:
        bundle = os.path.abspath(bundle)
        if config is None:
            validate_id(cid)
            config = load_bundle(bundle)
            log.step("config.json loaded and validated")
        return _create(root, cid, bundle, config, opts, keep_console, sys, durable, subreaper)
    finally:
        stop_warmup()


def _create(
    root: str, cid: str, bundle: str, config: dict[str, object], opts: CreateOptions, keep_console: bool,
    sys: System | None, durable: bool, subreaper: bool,
) -> tuple[Container, Started]:
    from pallet.runtime import log

    setup = _prepare(cid, config, bundle, root)
    log.step("namespaces, capabilities and seccomp worked out")
    if sys is None:
        assert setup.ns is not None
        setup.direct = setup.ns.runtime_forks_init()
        if not setup.direct:
            from pallet.runtime.process import prefork

            prefork.start()  # (the command line's create/run: see process.prefork)
    if setup.terminal and not opts.console_socket and not keep_console:
        raise ConfigError("process.terminal is true: --console-socket is required (or run in the foreground)")
    if opts.console_socket and not setup.terminal:
        raise ConfigError("--console-socket was given but process.terminal is false")
    setup.no_pivot = opts.no_pivot
    setup.no_new_keyring = opts.no_new_keyring
    setup.preserve_fds = opts.preserve_fds
    setup.subreaper = subreaper
    from pallet.runtime.cgroups import new_manager

    cgroups_path = setup.linux.get("cgroupsPath")
    manager = new_manager(str(cgroups_path) if cgroups_path else None, cid)
    setup.resources = container_resources(setup.linux)
    manager.for_resources(setup.resources)
    manager.check(setup.resources)
    setup.cgroup = manager
    from pallet.runtime.process.setup import waits_late

    setup.late_go = waits_late(setup)
    if not manager.self_joins:
        from pallet.runtime.cgroups.warmup import start_warmup

        start_warmup(hybrid=True)  # (a hybrid host's unified tree, joined for limits that live there)
    cdir = statedir.make_container_dir(root, cid)
    container = Container(root, {"id": cid, "creating": True, "bundle": bundle, "cgroup": manager.to_dict()})
    started: Started | None = None
    try:
        # Saved (creating) with the cgroup before it is made: should this process die (killed)
        # before the end, `delete --force` still finds the cgroup to remove.  Saved before the fork:
        # after it, beside the init, it took three times as long (every page touched is copied).
        container.save(durable=False)
        fifo = os.path.join(cdir, statedir.FIFO)
        os.mkfifo(fifo, 0o622)
        os.chmod(fifo, 0o622)  # not narrowed by the umask: the container's user opens it to wait
        setup.fifo_fd = os.open(fifo, os.O_PATH | os.O_CLOEXEC)
        # (The cgroup is made by the parent once the children are at work: see parent._drive; the
        # mkdirs may wait for the kernel's cgroup lock, which the migration warm-up may hold.)
        hooks_state = {"ociVersion": "1.2.0", "id": cid, "bundle": bundle,
                       "annotations": config.get("annotations") or {}}
        from pallet.runtime.process.parent import run_children
        from pallet.runtime.rootfs.sources import prepare_bind_sources

        setup.idmap_fds = prepare_bind_sources(setup.config.get("mounts") or [], setup.linux,  # type: ignore[arg-type]
                                               new_userns=setup.ns is not None and setup.ns.new_user)
        started = run_children(setup, sys, hooks_state)
        log.step(f"container init {started.pid} ready")
        from pallet._linux.procfs import start_time

        container.data = {
            "id": cid,
            "pid": started.pid,
            "pid_start": start_time(started.pid),
            "bundle": bundle,
            "rootfs": setup.rootfs,
            "created": _now(),
            "cgroup": manager.to_dict(),
            "config": config,
        }
        container.save(durable)
        if started.console_fd >= 0 and not keep_console:
            from pallet.runtime.console import send_to_socket

            try:
                send_to_socket(opts.console_socket, started.console_fd)
            finally:
                os.close(started.console_fd)
                started.console_fd = -1
        _write_pid_file(opts.pid_file, started.pid)
        log.step("state saved")
    except BaseException:
        if started is not None and started.pid:
            try:
                os.kill(started.pid, SIGKILL)
            except ProcessLookupError:
                pass
        if setup.made_cgroup:
            try:
                manager.destroy()
            except OSError:
                pass
        statedir.remove_container_dir(root, cid)
        raise
    finally:
        if setup.fifo_fd >= 0:
            os.close(setup.fifo_fd)
        for fd in setup.idmap_fds.values():
            os.close(fd)
    return container, started


def start(root: str, cid: str) -> Container:
    """Let a created container's init exec its process."""
    with statedir.Lock(root, cid):
        c = Container.load(root, cid)
        status = c.status()
        if status != "created":
            raise StateError(f"cannot start container {cid!r}: it is {status}, not created")
        fifo = os.path.join(c.dir, statedir.FIFO)
        try:
            fd = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        except FileNotFoundError:
            raise StateError(f"cannot start container {cid!r}: it was already started") from None
        try:
            import select

            deadline = time.monotonic() + 10
            data = b""
            while not data:
                # Read first: a fast process may have taken the start, exec'd and exited already.
                ready, _, _ = select.select([fd], [], [], 0.2)
                if ready:
                    data = os.read(fd, 1)
                    if data:
                        break
                if not c.alive():
                    raise RuntimeFailure(f"container {cid!r}: its init exited before it took the start signal",
                                         step="start")
                if time.monotonic() > deadline:
                    raise RuntimeFailure(f"container {cid!r}: its init did not take the start signal", step="start")
                if ready:
                    time.sleep(0.001)
        finally:
            os.close(fd)
        os.unlink(fifo)
    from pallet.runtime import hooks

    if hooks.has_hooks(c.config, "poststart"):
        try:
            hooks.run_hooks(c.config, "poststart", c.oci_state())
        except RuntimeFailure:
            # A failing poststart hook fails the operation and undoes it: stop and remove the container.
            delete(root, cid, force=True)
            raise
    return c


def parse_signal(value: str) -> int:
    """A signal by number or name (KILL, SIGKILL, sigkill)."""
    import signal

    text = value.strip()
    if text.isdigit():
        num = int(text)
        if 0 < num < 65:
            return num
        raise ConfigError(f"signal {value!r} is out of range (1-64)")
    name = text.upper()
    if not name.startswith("SIG"):
        name = "SIG" + name
    if name.startswith("SIGRTMIN+") or name.startswith("SIGRTMAX-"):
        base, _, off = name.partition("+") if "+" in name else name.partition("-")
        if off.isdigit():
            n = signal.SIGRTMIN + int(off) if base == "SIGRTMIN" else signal.SIGRTMAX - int(off)
            return int(n)
    sig = getattr(signal.Signals, name, None) if hasattr(signal.Signals, name) else None
    if sig is None:
        raise ConfigError(f"signal {value!r} is not a signal name or number (e.g. TERM, KILL, 9)")
    return int(sig)


def kill(root: str, cid: str, sig: int, *, all_processes: bool = False) -> None:
    c = Container.load(root, cid)
    status = c.status()
    if status in ("stopped", "creating"):
        raise StateError(f"cannot kill container {cid!r}: it is {status} (container not running)")
    if all_processes:
        cg = c.cgroup()
        if cg is not None:
            cg.signal_all(sig)  # type: ignore[attr-defined]
            if status == "paused" and sig != SIGKILL:
                return
            return
    try:
        os.kill(c.pid, sig)
    except ProcessLookupError:
        raise StateError(f"cannot kill container {cid!r}: container not running") from None


def _wait_dead(c: Container, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while c.alive():
        if time.monotonic() > deadline:
            return False
        try:
            os.waitpid(c.pid, os.WNOHANG)
        except ChildProcessError:
            pass
        time.sleep(0.005)
    return True


def delete(root: str, cid: str, *, force: bool = False) -> None:
    """Remove a stopped container (``force``: kill it first) and everything it held."""
    try:
        lock = statedir.Lock(root, cid)
        lock.__enter__()
    except NotFoundError:
        raise NotFoundError(f"container {cid!r} does not exist (in {root})") from None
    try:
        c = Container.load(root, cid)
        status = c.status()
        if status == "creating":
            if not force:
                raise StateError(f"cannot delete container {cid!r}: it is being created (use --force)")
        elif status != "stopped":
            if not force:
                raise StateError(f"cannot delete container {cid!r}: it is {status} (stop it first, or use --force)")
            cg = c.cgroup()
            if cg is not None:
                if status == "paused":
                    cg.thaw()  # type: ignore[attr-defined]
                cg.signal_all(SIGKILL)  # type: ignore[attr-defined]
            try:
                os.kill(c.pid, SIGKILL)
            except ProcessLookupError:
                pass
            if not _wait_dead(c):
                raise RuntimeFailure(f"container {cid!r}: its init (pid {c.pid}) did not die after SIGKILL", step="delete")
        cg = c.cgroup()
        if cg is not None:
            cg.destroy()  # type: ignore[attr-defined]
        statedir.remove_container_dir(root, cid)
    finally:
        lock.__exit__()
    from pallet.runtime import hooks

    if hooks.has_hooks(c.config, "poststop"):
        state = c.oci_state()
        state["status"] = "stopped"
        try:
            hooks.run_hooks(c.config, "poststop", state)
        except RuntimeFailure as exc:
            from pallet.runtime import log

            log.warning(str(exc))


def list_containers(root: str) -> list[Container]:
    out = []
    for cid in statedir.list_ids(root):
        try:
            out.append(Container.load(root, cid))
        except NotFoundError:
            continue
    return out


def exit_status(status: int) -> int:
    if os.WIFEXITED(status):
        return os.WEXITSTATUS(status)
    if os.WIFSIGNALED(status):
        return 128 + os.WTERMSIG(status)
    return 255


def forward_signals(pid: int) -> None:
    """From now on, every signal this process gets is passed on to ``pid``."""
    import _signal

    forwarded = [s for s in range(1, _signal.NSIG) if s not in _NOT_FORWARDED]
    # Orphans of the container reparent to us: reap them too, until the container's process is done.

    def forward(sig: int, _frame: object) -> None:
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass

    for s in forwarded:
        try:
            _signal.signal(s, forward)
        except (OSError, ValueError):
            pass


def wait_foreground(pid: int, console_fd: int = -1, *, forwarding: bool = False) -> int:
    """Wait for ``pid`` (our child: we are a subreaper), forwarding signals (set up here unless
    ``forwarding`` says the caller already did); its exit code.  (The cyclic garbage collector stays
    as the caller set it: waiting, forwarding and copying a pty make no cycles.)"""
    if not forwarding:
        forward_signals(pid)
    if console_fd >= 0:
        from pallet.runtime.console import proxy

        # Copy between our terminal and the container's until its side of the pty closes.
        proxy(console_fd, pid)
    while True:
        try:
            wpid, status = os.waitpid(-1, 0)
        except ChildProcessError:
            return 255
        except InterruptedError:
            continue
        if wpid == pid:
            return exit_status(status)


def run(root: str, cid: str, bundle: str, opts: CreateOptions | None = None, *, detach: bool = False) -> int:
    """create + start; in the foreground also wait for the exit code and delete."""
    from pallet.runtime import log

    opts = opts or CreateOptions()
    # A foreground container's state lives as long as this process: no need to fsync it.  Its init
    # becomes our child when the intermediate exits (we are made its subreaper first).
    _container, started = create(root, cid, bundle, opts, keep_console=not detach and not opts.console_socket,
                                 durable=detach, subreaper=not detach)
    if not detach:
        # Before start: a signal that comes as soon as the process runs must reach it too.
        forward_signals(started.pid)
    try:
        start(root, cid)
        log.step("started")
    except BaseException:
        try:
            delete(root, cid, force=True)
        except (NotFoundError, RuntimeFailure):
            pass
        raise
    if detach:
        return 0
    try:
        code = wait_foreground(started.pid, started.console_fd, forwarding=True)
        log.step(f"container exited with {code}")
    finally:
        if started.console_fd >= 0:
            os.close(started.console_fd)
        try:
            delete(root, cid, force=True)
        except NotFoundError:
            pass
        log.step("deleted")
    return code
