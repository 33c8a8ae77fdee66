"""OCI hooks: programs run at points of the lifecycle with the container's state on stdin."""

from __future__ import annotations

import os

from pallet import fastjson
from pallet.errors import RuntimeFailure

HOOK_KINDS = ("prestart", "createRuntime", "createContainer", "startContainer", "poststart", "poststop")


def run_hooks(config: dict[str, object], kind: str, state: dict[str, object]) -> None:
    """Run every hook of ``kind`` in order; the first that fails (or times out) raises."""
    hooks = config.get("hooks")
    if not isinstance(hooks, dict):
        return
    entries = hooks.get(kind) or []
    if not entries:
        return
    import subprocess

    data = fastjson.dumps(state).encode()
    for i, hook in enumerate(entries):
        path = str(hook.get("path", ""))
        args = list(hook.get("args") or [path])
        env = {}
        for item in hook.get("env") or []:
            k, _, v = str(item).partition("=")
            env[k] = v
        timeout = hook.get("timeout")
        where = f"hooks.{kind}[{i}] {path}"
        try:
            proc = subprocess.Popen(
                args, executable=path, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                env=env, close_fds=True, start_new_session=True,
            )
        except OSError as exc:
            raise RuntimeFailure(f"{where} cannot be run: {exc.strerror}", step=kind, errno=exc.errno or 0) from None
        try:
            stdout, stderr = proc.communicate(data, timeout=float(timeout) if timeout else None)
        except subprocess.TimeoutExpired:
            # The hook and everything it started (its own session) go.
            import signal

            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.communicate()
            raise RuntimeFailure(f"{where} did not finish within its timeout of {timeout}s", step=kind) from None
        if proc.returncode != 0:
            detail = (stderr or stdout or b"").decode(errors="replace").strip()
            status = f"exit status {proc.returncode}" if proc.returncode > 0 else f"signal {-proc.returncode}"
            raise RuntimeFailure(f"{where} failed with {status}" + (f": {detail}" if detail else ""), step=kind)


def has_hooks(config: dict[str, object], *kinds: str) -> bool:
    hooks = config.get("hooks")
    return isinstance(hooks, dict) and any(hooks.get(k) for k in kinds)
