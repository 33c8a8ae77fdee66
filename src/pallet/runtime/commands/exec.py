"""pallet-runtime exec."""

from __future__ import annotations

import os

from pallet.runtime.cliparse import Option, UsageError
from pallet.runtime.commands._common import non_negative_int

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

USAGE = "pallet-runtime exec [command options] <container-id> <command> [command options]  || -p process.json <container-id>"
STOP_AT_POSITIONAL = True
OPTIONS = (
    Option("--console-socket", value=True, default="", help="path to an AF_UNIX socket which will receive the pty master"),
    Option("--cwd", value=True, default="", help="current working directory in the container"),
    Option("--env", "-e", multiple=True, help="set environment variables"),
    Option("--tty", "-t", help="allocate a pseudo-TTY"),
    Option("--user", "-u", value=True, default="", help="UID (format: <uid>[:<gid>])"),
    Option("--additional-gids", "-g", multiple=True, help="additional gids"),
    Option("--process", "-p", value=True, default="", help="path to the process.json"),
    Option("--detach", "-d", help="detach from the container's process"),
    Option("--pid-file", value=True, default="", help="specify the file to write the process id to"),
    Option("--process-label", value=True, default="", help="set the asm process label for the process commonly used with selinux"),
    Option("--apparmor", value=True, default="", help="set the apparmor profile for the process"),
    Option("--no-new-privs", help="set the no new privileges value for the process"),
    Option("--cap", "-c", multiple=True, help="add a capability to the bounding set for the process"),
    Option("--preserve-fds", value=True, default="0", help="pass N additional file descriptors to the container"),
    Option("--cgroup", multiple=True, help="run the process in an (existing) sub-cgroup (not supported)"),
    Option("--ignore-paused", help="allow exec in a paused container"),
)


def build_process(opts: dict[str, Any], argv: list[str], base: dict[str, Any]) -> dict[str, Any]:
    """A process object from the flags, starting from the container's own process."""
    if opts["process"]:
        from pallet import fastjson

        path = str(opts["process"])
        try:
            with open(path, "rb") as f:
                loaded = fastjson.loads(f.read())
        except FileNotFoundError:
            raise UsageError(f"--process {path!r} does not exist") from None
        except ValueError as exc:
            raise UsageError(f"--process {path!r} is not valid JSON: {exc}") from None
        if not isinstance(loaded, dict):
            raise UsageError(f"--process {path!r} must hold a JSON object")
        return loaded
    if not argv:
        raise UsageError("exec needs a command to run (or --process process.json)")
    proc: dict[str, Any] = {
        "args": argv,
        "env": list(base.get("env") or []),
        "cwd": str(opts["cwd"] or base.get("cwd") or "/"),
        "terminal": bool(opts["tty"]),
        "user": dict(base.get("user") or {"uid": 0, "gid": 0}),
        "noNewPrivileges": bool(opts["no_new_privs"] or base.get("noNewPrivileges")),
    }
    for key in ("capabilities", "rlimits", "apparmorProfile", "selinuxLabel", "oomScoreAdj"):
        if base.get(key) is not None:
            proc[key] = base[key]
    env = proc["env"]
    assert isinstance(env, list)
    for item in opts["env"]:
        key = str(item).partition("=")[0]
        env[:] = [e for e in env if str(e).partition("=")[0] != key]
        env.append(str(item))
    user = proc["user"]
    assert isinstance(user, dict)
    if opts["user"]:
        u, _, gr = str(opts["user"]).partition(":")
        user["uid"] = non_negative_int(u, "--user")
        user["gid"] = non_negative_int(gr, "--user") if gr else 0
        user.pop("additionalGids", None)
    if opts["additional_gids"]:
        user["additionalGids"] = [non_negative_int(str(x), "--additional-gids") for x in opts["additional_gids"]]
    if opts["apparmor"]:
        proc["apparmorProfile"] = opts["apparmor"]
    if opts["process_label"]:
        proc["selinuxLabel"] = opts["process_label"]
    if opts["cap"]:
        caps = dict(proc.get("capabilities") or {})
        for key in ("bounding", "effective", "permitted"):
            have = list(caps.get(key) or [])
            for cap in opts["cap"]:
                name = str(cap).upper()
                name = name if name.startswith("CAP_") else "CAP_" + name
                if name not in have:
                    have.append(name)
            caps[key] = have
        proc["capabilities"] = caps
    return proc


def run(g: Any, opts: dict[str, object], args: list[str]) -> int:
    from pallet.runtime.container import Container
    from pallet.runtime.execproc import ExecOptions, exec_process

    if not args:
        raise UsageError("'exec' requires a container id")
    if opts["cgroup"]:
        raise UsageError("--cgroup is not supported: the process joins the container's own cgroup")
    cid = args[0]
    c = Container.load(g.root, cid)
    base = c.config.get("process") or {}
    assert isinstance(base, dict)
    proc = build_process(opts, args[1:], base)
    pid_file = str(opts["pid_file"])
    return exec_process(
        g.root, cid, proc,
        ExecOptions(
            detach=bool(opts["detach"]),
            pid_file=os.path.abspath(pid_file) if pid_file else "",
            console_socket=os.path.abspath(str(opts["console_socket"])) if opts["console_socket"] else "",
            preserve_fds=non_negative_int(str(opts["preserve_fds"]), "--preserve-fds"),
        ),
    )
