"""The engine's one interface to an OCI runtime, over a runc-compatible command line.

``OCIRuntime(binary, state_root)`` drives ``runc``, ``crun``, ``pallet-runtime`` or any binary with
runc's command line (create --bundle --pid-file --console-socket, start, state, kill, delete, pause,
resume, exec, update); the state of each runtime lives in ``<runroot>/runtime/<name>`` so several
stores never share it.  ``open_runtime(name, runroot)`` picks the implementation: ``pallet`` (the
default) is pallet.engine.inprocess.InProcessRuntime, the runtime library called in this process;
``pallet-runtime``, ``runc``, ``crun`` or a path is an OCIRuntime over that binary.

Errors of the runtime come back as RuntimeFailure carrying the runtime's own message (read from its
JSON log), or CommandNotFound (127) / CommandNotInvokable (126) when the container's executable is
missing or cannot be run, as docker reports them.
"""

from __future__ import annotations

import os

from pallet.errors import CommandNotFound, CommandNotInvokable, ConfigError, NotFoundError, RuntimeFailure

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence

    from pallet.engine.inprocess import InProcessRuntime

KNOWN = ("pallet", "pallet-runtime", "runc", "crun")
DEFAULT = "pallet"


def open_runtime(name: str, runroot: str) -> OCIRuntime | InProcessRuntime:
    """The runtime ``name``: in-process for ``pallet``, else the binary; ConfigError if unknown."""
    if name == "pallet":
        from pallet.engine.inprocess import InProcessRuntime

        return InProcessRuntime(runroot)
    return OCIRuntime(name, runroot)


def _pallet_runtime() -> str:
    import shutil
    import sys

    here = os.path.join(os.path.dirname(sys.executable), "pallet-runtime")
    return here if os.path.exists(here) else (shutil.which("pallet-runtime") or here)


def resolve_binary(name: str) -> str:
    """The path of runtime ``name`` (pallet, runc, crun or a path); ConfigError naming it if missing."""
    if name in ("pallet", "pallet-runtime"):
        path = _pallet_runtime()
    elif "/" in name:
        path = name
    else:
        import shutil

        path = shutil.which(name) or ""
    if not path or not os.access(path, os.X_OK):
        raise ConfigError(
            f'unknown or invalid runtime name: {name} (from --runtime; allowed: {", ".join(KNOWN)} '
            "or the path of a runc-compatible binary)"
        )
    return path


def classify(message: str) -> RuntimeFailure:
    """A runtime's error message as pallet's exception, with docker's 126/127 exit codes."""
    low = message.lower()
    if "executable file not found" in low or ("no such file or directory" in low and "exec" in low):
        return CommandNotFound(message, step="exec")
    if "permission denied" in low and "exec" in low:
        return CommandNotInvokable(message, step="exec")
    return RuntimeFailure(message)


class OCIRuntime:
    """A runc-compatible runtime binary with its state under ``state_root``."""

    def __init__(self, name: str, runroot: str) -> None:
        self.name = name
        self.binary = resolve_binary(name)
        label = name if "/" not in name else "custom-" + name.strip("/").replace("/", "_")
        self.state_root = os.path.join(runroot, "runtime", label)
        self.log_dir = os.path.join(runroot, "runtime-logs")

    def _run(
        self,
        args: Sequence[str],
        *,
        stdio: tuple[int, int, int] | None = None,
        cid: str = "",
        pass_fds: Sequence[int] = (),
    ) -> str:
        import subprocess

        os.makedirs(self.log_dir, exist_ok=True)
        log = os.path.join(self.log_dir, f"{cid or 'x'}-{os.getpid()}.log")
        cmd = [self.binary, "--root", self.state_root, "--log", log, "--log-format", "json", *args]
        if stdio is None:
            proc = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, pass_fds=pass_fds)
            out, err = proc.stdout, proc.stderr
        else:
            proc = subprocess.run(cmd, stdin=stdio[0], stdout=stdio[1], stderr=stdio[2], pass_fds=pass_fds)
            out, err = b"", b""
        message = _log_error(log) or err.decode(errors="replace").strip()
        try:
            os.unlink(log)
        except FileNotFoundError:
            pass
        if proc.returncode != 0:
            if "does not exist" in message or "not exist" in message:
                raise NotFoundError(f"container {cid} not found by {self.name}: {message}")
            raise classify(message or f"{self.name} {args[0]} failed with exit status {proc.returncode}")
        return out.decode(errors="replace")

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

        ``durable`` and ``spec`` are for the in-process runtime's shape: a binary writes its state as
        it does, and reads the bundle's config.json."""
        del durable, spec
        args = ["create", "--bundle", bundle, "--pid-file", pid_file]
        if console_socket:
            args += ["--console-socket", console_socket]
        self._run([*args, cid], stdio=stdio, cid=cid)
        with open(pid_file) as f:
            return int(f.read().strip())

    def start(self, cid: str) -> None:
        self._run(["start", cid], cid=cid)

    def state(self, cid: str) -> dict:  # type: ignore[type-arg]
        import json

        doc = json.loads(self._run(["state", cid], cid=cid))
        return doc if isinstance(doc, dict) else {}

    def kill(self, cid: str, sig: int | str, all_processes: bool = False) -> None:
        args = ["kill"] + (["--all"] if all_processes else []) + [cid, str(sig)]
        self._run(args, cid=cid)

    def delete(self, cid: str, force: bool = False) -> None:
        try:
            self._run(["delete"] + (["--force"] if force else []) + [cid], cid=cid)
        except NotFoundError:
            pass

    def pause(self, cid: str) -> None:
        self._run(["pause", cid], cid=cid)

    def resume(self, cid: str) -> None:
        self._run(["resume", cid], cid=cid)

    def update(self, cid: str, resources_file: str) -> None:
        self._run(["update", "--resources", resources_file, cid], cid=cid)

    def exec(self, cid: str, process_file: str, *, detach: bool = False, tty: bool = False,
             interactive: bool = False, pid_file: str = "") -> int:
        """Run the process of ``process_file`` in the container; its exit code (0 when detached)."""
        import subprocess

        argv = self.exec_argv(cid, process_file, detach=detach, tty=tty, pid_file=pid_file or None)
        stdin = None if (interactive or tty) and not detach else subprocess.DEVNULL
        out = subprocess.DEVNULL if detach else None
        code = subprocess.run(argv, stdin=stdin, stdout=out, stderr=out if detach else None).returncode
        if detach and code != 0:
            raise RuntimeFailure(f"{self.name} exec --detach in container {cid} failed with exit status {code}")
        return 126 if code == 255 else code

    def exec_argv(
        self,
        cid: str,
        process_file: str,
        *,
        detach: bool = False,
        tty: bool = False,
        pid_file: str | None = None,
        console_socket: str | None = None,
    ) -> list[str]:
        """The command line that runs the process described in ``process_file`` in the container."""
        args = [self.binary, "--root", self.state_root, "exec", "--process", process_file]
        if detach:
            args.append("--detach")
        if tty:
            args.append("--tty")
        if pid_file:
            args += ["--pid-file", pid_file]
        if console_socket:
            args += ["--console-socket", console_socket]
        return [*args, cid]


def _log_error(path: str) -> str:
    """The last error message of a runtime's JSON log (runc's --log-format json)."""
    import json

    try:
        with open(path, "rb") as f:
            lines = f.read().splitlines()
    except OSError:
        return ""
    for line in reversed(lines):
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if isinstance(entry, dict) and entry.get("level") in ("error", "fatal"):
            return str(entry.get("msg", "")).strip()
    return ""
