"""The container engine: create, launch, exit bookkeeping, stop, kill, remove, wait, list.

``Engine(root, runroot)`` is what the CLI (and the API server) call.  A container runs under a
*monitor*: the process that is its subreaper parent, pumps its output into the json-file log and
records its exit (``on_exit``).  For ``run`` without ``-d`` the CLI itself is the monitor; for
detached containers it is the store's supervisor (pallet.engine.monitor), one process for all of them.

State is reconciled on every read: a container recorded as running whose process is gone (pid with
its start time) and whose monitor is gone too is recorded as exited (exit code 255, as docker does
for a container whose shim died).
"""

from __future__ import annotations

import os
import time

from pallet.engine.store import ZERO_TIME, ContainerStore, now_iso
from pallet.errors import ConflictError, NotFoundError, PalletError, StateError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from pallet.engine.inprocess import InProcessRuntime
    from pallet.engine.runtimes import OCIRuntime

    Record = dict[str, Any]

DEFAULT_CGROUP_PARENT = "pallet"
# Signal numbers without the signal module (it imports enum: milliseconds on every command).
SIGKILL = 9


def new_state() -> dict[str, Any]:
    return {"Status": "created", "Running": False, "Paused": False, "Restarting": False, "OOMKilled": False,
            "Dead": False, "Pid": 0, "ExitCode": 0, "Error": "", "StartedAt": ZERO_TIME, "FinishedAt": ZERO_TIME}


def exit_status(status: int) -> int:
    """A wait status as the container's exit code (128 + signal for a killed process)."""
    if os.WIFSIGNALED(status):
        return 128 + os.WTERMSIG(status)
    return os.WEXITSTATUS(status)


def parse_signal(value: str | int, source: str = "--signal") -> int:
    """SIGKILL, KILL, 9 -> 9; ConfigError naming the value otherwise."""
    import signal

    from pallet.errors import ConfigError

    text = str(value).strip().upper()
    if text.isdigit():
        num = int(text)
        if 0 < num < signal.NSIG:
            return num
    else:
        name = text if text.startswith("SIG") else "SIG" + text
        sig = getattr(signal.Signals, name, None) if name in signal.Signals.__members__ else None
        if sig is not None:
            return int(sig)
    raise ConfigError(f"invalid signal {value!r} from {source} (a name like SIGTERM or KILL, or a number 1-{signal.NSIG - 1})")


class Engine:
    """Containers under the state root ``root`` and the run root ``runroot``."""

    def __init__(self, root: str, runroot: str) -> None:
        self.root = os.path.abspath(root)
        self.runroot = os.path.abspath(runroot)
        self.store = ContainerStore(self.root)
        self._runtimes: dict[str, OCIRuntime | InProcessRuntime] = {}

    # -- configuration -------------------------------------------------------------------------
    def cgroup_parent(self) -> str:
        return os.environ.get("PALLET_CGROUP_PARENT") or DEFAULT_CGROUP_PARENT

    def default_runtime(self) -> str:
        return os.environ.get("PALLET_RUNTIME") or "pallet"

    def runtime(self, name: str) -> OCIRuntime | InProcessRuntime:
        if name not in self._runtimes:
            from pallet.engine.runtimes import open_runtime

            self._runtimes[name] = open_runtime(name, self.runroot)
        return self._runtimes[name]

    def rundir(self, cid: str) -> str:
        return os.path.join(self.runroot, "containers", cid)

    # -- reading -------------------------------------------------------------------------------
    def get(self, ref: str) -> Record:
        """The record of container ``ref`` (name, id or id prefix), reconciled with reality."""
        return self.reconcile(self.store.read(self.store.resolve(ref)))

    def list(self, all: bool = True) -> list[Record]:
        out = [self.reconcile(r) for r in self.store.iter_records()]
        out.sort(key=lambda r: r.get("Created", ""), reverse=True)
        return out if all else [r for r in out if r["State"]["Running"]]

    def reconcile(self, record: Record) -> Record:
        """Mark a container exited if its process and its monitor are both gone."""
        from pallet._linux.procfs import is_alive

        state = record["State"]
        if not state.get("Running"):
            return record
        private = record.get("Pallet", {})
        if is_alive(int(state.get("Pid") or 0), private.get("PidStart")):
            return record
        mon = private.get("Monitor") or {}
        if mon and is_alive(int(mon.get("pid", 0)), mon.get("start")):
            # The monitor will record the exit in a moment: wait for it briefly.
            for _ in range(100):
                time.sleep(0.01)
                fresh = self.store.read(record["Id"])
                if not fresh["State"].get("Running"):
                    return fresh
            return record
        with self.store.lock(record["Id"]):
            fresh = self.store.read(record["Id"])
            if fresh["State"].get("Running"):
                self._cleanup_after_exit(fresh)
                self._set_exited(fresh, 255, error="the container's monitor is gone")
                self.store.write(fresh)
        return fresh

    # -- launch and exit -----------------------------------------------------------------------
    def launch(self, cid: str, stdio: tuple[int, int, int], console_socket: str | None = None) -> int:
        """Mount, write the bundle, create and start the container; returns its pid.

        The caller is the container's monitor: it must be a child subreaper, so that the
        container's init becomes its child when the runtime exits.
        """
        from pallet._linux.procfs import start_time
        from pallet.engine import bundle

        with self.store.lock(cid):
            record = self.store.read(cid)
            state = record["State"]
            if state["Running"]:
                raise StateError(f"container {cid} is already running")
            rt = self.runtime(record["HostConfig"].get("Runtime") or self.default_runtime())
            rt.delete(cid, force=True)  # a leftover of an earlier run, if any
            try:
                bundle_dir, spec = bundle.prepare(self, record)
                pid = rt.create(cid, bundle_dir, os.path.join(bundle_dir, "pid"), stdio, console_socket, spec=spec,
                                durable=not record["HostConfig"].get("AutoRemove"))
                rt.start(cid)
            except PalletError as exc:
                rt.delete(cid, force=True)
                bundle.release(self, record)
                state["Error"] = str(exc)
                state["ExitCode"] = exc.exit_code if exc.exit_code in (126, 127) else 128
                self.store.write(record)
                raise
            state.update(Status="running", Running=True, Paused=False, Restarting=False, OOMKilled=False,
                         Pid=pid, ExitCode=0, Error="", StartedAt=now_iso(), FinishedAt=ZERO_TIME)
            private = record.setdefault("Pallet", {})
            private["PidStart"] = start_time(pid)
            private["Monitor"] = {"pid": os.getpid(), "start": start_time(os.getpid())}
            private["StopRequested"] = False
            self.store.write(record, durable=not record["HostConfig"].get("AutoRemove"))
        self.event(record, "start")
        return pid

    def on_exit(self, cid: str, status: int) -> str | None:
        """Record the exit of container ``cid``; returns "restart" (the caller restarts it), "removed"
        (an auto-removed container: removed here, under the same lock) or None."""
        try:
            lock = self.store.lock(cid)
            lock.__enter__()
        except NotFoundError:
            return None
        try:
            record = self.store.read(cid)
            code = exit_status(status)
            oom = self._cleanup_after_exit(record)
            self._set_exited(record, code, oom=oom)
            decision = self._next_step(record, code)
            if decision == "restart":
                record["RestartCount"] = int(record.get("RestartCount", 0)) + 1
                record["State"]["Restarting"] = True
                record["State"]["Status"] = "restarting"
            # The events before the state: whoever sees the exit (stop, wait) finds oom/die logged already
            if record["State"]["OOMKilled"]:
                self.event(record, "oom")
            self.event(record, "die", exitCode=str(code))
            if decision == "remove":
                # Under the same lock, nobody reads the record in between: it goes, unwritten.
                self._remove_locked(record)
                decision = "removed"
            else:
                self.store.write(record, durable=not record["HostConfig"].get("AutoRemove"))
        finally:
            lock.__exit__()
        if decision == "removed":
            self._removed(record)
        return decision

    def _next_step(self, record: Record, code: int) -> str | None:
        hc = record["HostConfig"]
        if record.get("Pallet", {}).get("StopRequested"):
            return "remove" if hc.get("AutoRemove") else None
        policy = hc.get("RestartPolicy") or {}
        name = policy.get("Name") or "no"
        if name in ("always", "unless-stopped") or (name == "on-failure" and code != 0 and (
                not policy.get("MaximumRetryCount") or int(record.get("RestartCount", 0)) < int(policy["MaximumRetryCount"]))):
            return "restart"
        return "remove" if hc.get("AutoRemove") else None

    def _set_exited(self, record: Record, code: int, *, oom: bool = False, error: str = "") -> None:
        record["State"].update(Status="exited", Running=False, Paused=False, Restarting=False, Pid=0,
                               ExitCode=code, OOMKilled=oom, Error=error, FinishedAt=now_iso())

    def _cleanup_after_exit(self, record: Record) -> bool:
        """Delete the runtime's container and unmount the root; True if the kernel OOM-killed in it."""
        from pallet.engine import bundle

        oom = bundle.oom_killed(self, record)
        rt = self.runtime(record["HostConfig"].get("Runtime") or self.default_runtime())
        try:
            rt.delete(record["Id"], force=True)
        except PalletError:
            pass
        bundle.release(self, record)
        return oom

    # -- operations ----------------------------------------------------------------------------
    def kill(self, ref: str, sig: int = SIGKILL) -> Record:
        record = self.get(ref)
        if not record["State"]["Running"]:
            raise ConflictError(f"Cannot kill container: {ref}: Container {record['Id']} is not running")
        try:
            os.kill(int(record["State"]["Pid"]), sig)
        except ProcessLookupError:
            pass
        self.event(record, "kill", signal=str(sig))
        return record

    def stop(self, ref: str, timeout: float | None = None, sig: int | None = None) -> Record:
        """docker stop: the stop signal, then SIGKILL after ``timeout`` seconds; waits for the exit."""
        cid = self.store.resolve(ref)
        with self.store.lock(cid):
            record = self.store.read(cid)
            record.setdefault("Pallet", {})["StopRequested"] = True
            if record["State"].get("Restarting") and not record["State"].get("Running"):
                record["State"].update(Restarting=False, Status="exited")  # the pending restart is cancelled
            self.store.write(record)
        record = self.reconcile(record)
        state = record["State"]
        if not state["Running"]:
            return record
        if state.get("Paused"):
            self.unpause(cid)
        cfg = record["Config"]
        if sig is None:
            sig = parse_signal(cfg.get("StopSignal") or "SIGTERM", "--stop-signal")
        if timeout is None:
            timeout = float(cfg.get("StopTimeout") if cfg.get("StopTimeout") is not None else 10)
        pid = int(state["Pid"])
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass
        self.event(record, "kill", signal=str(sig))
        if not self._wait_pid_gone(record, timeout):
            try:
                os.kill(pid, SIGKILL)
            except ProcessLookupError:
                pass
            self.event(record, "kill", signal=str(SIGKILL))
            self._wait_pid_gone(record, 10)
        record = self.wait_exit(cid, 10, last=record)
        self.event(record, "stop")  # docker's order: kill, (kill,) die, stop
        return record

    def _last_exit_code(self, cid: str, window: int = 1 << 20) -> int | None:
        """The exit code of the last "die" event of ``cid`` in the last MiB of the events log."""
        from pallet import fastjson

        try:
            with open(os.path.join(self.root, "events.log"), "rb") as f:
                f.seek(0, os.SEEK_END)
                f.seek(max(0, f.tell() - window))
                lines = f.read().splitlines()
        except OSError:
            return None
        die = f'{{"status":"die","id":"{cid}",'.encode()  # how event() writes it
        for line in reversed(lines):
            if line.startswith(die):
                try:
                    event = fastjson.loads(line)
                    return int(event["Actor"]["Attributes"]["exitCode"])  # type: ignore[index]
                except (ValueError, KeyError, TypeError):
                    return None
        return None

    def _wait_pid_gone(self, record: Record, timeout: float) -> bool:
        from pallet._linux.procfs import is_alive

        pid = int(record["State"]["Pid"])
        started = record.get("Pallet", {}).get("PidStart")
        deadline = time.monotonic() + timeout
        while is_alive(pid, started):
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.01)
        return True

    def wait_exit(self, cid: str, timeout: float | None = None, last: Record | None = None) -> Record:
        """Block until the container is recorded as not running (and not restarting).  ``last`` is
        the record as the caller last read it (what is returned, with its exit, if the container was
        auto-removed before it could be read here)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        delay = 0.005
        while True:
            try:
                record = self.reconcile(self.store.read(cid))
            except NotFoundError:
                # An auto-removed container (--rm) goes with its record: its exit is in its last
                # "die" event (logged before the removal), which is what docker's wait reports.
                code = self._last_exit_code(cid)
                if last is None or code is None:
                    raise
                last["State"].update(Status="removed", Running=False, Restarting=False, Paused=False, Pid=0,
                                     ExitCode=code)
                return last
            last = record
            st = record["State"]
            if not st["Running"] and not st.get("Restarting"):
                return record
            if deadline is not None and time.monotonic() > deadline:
                return record
            time.sleep(delay)
            delay = min(delay * 2, 0.1)

    def pause(self, ref: str) -> None:
        record = self.get(ref)
        if not record["State"]["Running"]:
            raise ConflictError(f"Container {record['Id']} is not running")
        if record["State"]["Paused"]:
            raise ConflictError(f"Container {record['Id']} is already paused")
        self.runtime(record["HostConfig"].get("Runtime") or self.default_runtime()).pause(record["Id"])
        self._set_paused(record["Id"], True)
        self.event(record, "pause")

    def unpause(self, ref: str) -> None:
        record = self.get(ref)
        if not record["State"]["Paused"]:
            raise ConflictError(f"Container {record['Id']} is not paused")
        self.runtime(record["HostConfig"].get("Runtime") or self.default_runtime()).resume(record["Id"])
        self._set_paused(record["Id"], False)
        self.event(record, "unpause")

    def _set_paused(self, cid: str, paused: bool) -> None:
        with self.store.lock(cid):
            record = self.store.read(cid)
            record["State"]["Paused"] = paused
            record["State"]["Status"] = "paused" if paused else "running"
            self.store.write(record)

    def remove(self, ref: str, force: bool = False, volumes: bool = False) -> str:
        """docker rm: refuses a running container unless ``force`` (then kills it first)."""
        record = self.get(ref)
        cid = record["Id"]
        if record["State"]["Running"]:
            if not force:
                raise ConflictError(
                    f"You cannot remove a running container {cid}. Stop the container before attempting "
                    "removal or force remove")
            with self.store.lock(cid):
                fresh = self.store.read(cid)
                fresh.setdefault("Pallet", {})["StopRequested"] = True
                self.store.write(fresh)
            try:
                if record["State"]["Paused"]:
                    self.unpause(cid)
                os.kill(int(record["State"]["Pid"]), SIGKILL)
            except (ProcessLookupError, PalletError):
                pass
            record = self.wait_exit(cid, 10, last=record)
        try:
            with self.store.lock(cid):
                record = self.store.read(cid)
                if record["State"]["Running"]:
                    raise ConflictError(f"container {cid} is still running: could not remove it")
                self._cleanup_after_exit(record)
                self._remove_locked(record, volumes=volumes)
        except NotFoundError:
            if record["HostConfig"].get("AutoRemove"):
                return str(cid)  # an --rm container: its monitor removed it meanwhile
            raise
        self._removed(record)
        return str(cid)

    def _remove_locked(self, record: Record, *, volumes: bool = False) -> None:
        """Remove a stopped container whose runtime state and mounts are gone; its lock is held."""
        from pallet.engine import bundle, images

        cid = record["Id"]
        images.remove_rootfs(self.root, cid, durable=not record["HostConfig"].get("AutoRemove"))
        bundle.remove_volumes(self, record, anonymous_only=True, enabled=volumes)
        self.store.release_name(record["Name"].lstrip("/"), cid)
        self.store.remove_dir(cid)

    def _removed(self, record: Record) -> None:
        """After the removal, once the lock is released: the run directory and the destroy event."""
        from pallet.fstree import remove_tree

        remove_tree(self.rundir(record["Id"]), ignore_errors=True)
        self.event(record, "destroy")

    def rename(self, ref: str, new_name: str) -> None:
        from pallet.engine.store import check_name

        new = check_name(new_name, "rename")
        cid = self.store.resolve(ref)
        with self.store.lock(cid):
            record = self.store.read(cid)
            old = record["Name"].lstrip("/")
            if old == new:
                raise ConflictError(f"Renaming a container with the same name as its current name: {new}")
            self.store.claim_name(new, cid)
            record["Name"] = "/" + new
            self.store.write(record)
            self.store.release_name(old, cid)
        self.event(record, "rename", oldName="/" + old)

    # -- events --------------------------------------------------------------------------------
    def event(self, record: Record, action: str, **attrs: str) -> None:
        """Append an event (docker's shape) to ``<root>/events.log``."""
        from pallet import fastjson

        attributes = {"image": record["Config"].get("Image", ""), "name": record["Name"].lstrip("/"), **attrs}
        attributes.update(record["Config"].get("Labels") or {})
        ns = time.time_ns()
        line = fastjson.dumps({"status": action, "id": record["Id"], "from": attributes["image"], "Type": "container",
                           "Action": action, "Actor": {"ID": record["Id"], "Attributes": attributes},
                           "scope": "local", "time": ns // 1_000_000_000, "timeNano": ns})
        os.makedirs(self.root, exist_ok=True)
        fd = os.open(os.path.join(self.root, "events.log"), os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            os.write(fd, line.encode() + b"\n")
        finally:
            os.close(fd)
