"""``pallet-runtime``: the OCI runtime's command line, compatible with runc's.

Each command lives in its own module under pallet.runtime.commands and is imported only when it
runs.  A command module defines::

    USAGE: str                      # "pallet-runtime kill [options] <container-id> [signal]"
    SUMMARY: str                    # one line for the command list
    OPTIONS: tuple[Option, ...]     # from pallet.runtime.cliparse
    STOP_AT_POSITIONAL: bool        # optional: options end at the first positional (exec, run args)
    def run(g: GlobalOptions, opts: dict[str, object], args: list[str]) -> int

Errors: a PalletError (or OSError) raised by a command is printed once, logged to --log, and the
process exits with the error's exit code (1 for runtime errors, as runc; 125/126/127 are kept for
errors that carry them and are used by ``run``).
"""

from __future__ import annotations

import os
import sys

from pallet.runtime.cliparse import Option, UsageError, help_text, parse

VERSION = "0.1.0"
SPEC_VERSION = "1.2.0"

# name -> one-line summary; the module is pallet.runtime.commands.<name with - as _>
COMMANDS: dict[str, str] = {
    "create": "create a container",
    "start": "executes the user defined process in a created container",
    "run": "create and run a container",
    "state": "output the state of a container",
    "kill": "kill sends the specified signal (default: SIGTERM) to the container's init process",
    "delete": "delete any resources held by the container often used with detached containers",
    "exec": "execute new process inside the container",
    "ps": "ps displays the processes running inside a container",
    "list": "lists containers started by pallet-runtime with the given root",
    "spec": "create a new specification file",
    "features": "show the enabled features",
    "pause": "pause suspends all processes inside the container",
    "resume": "resumes all processes that have been previously paused",
    "update": "update container resource constraints",
    "events": "display container events such as OOM notifications, cpu, memory, and IO usage statistics",
}
ALIASES = {"ls": "list", "rm": "delete"}

GLOBAL_OPTIONS = (
    Option("--root", value=True, default="", help="root directory for storage of container state (default /run/pallet/runtime)"),
    Option("--log", value=True, default="", help="set the log file to write pallet-runtime logs to (default is stderr)"),
    Option("--log-format", value=True, default="text", help="set the log format ('text' (default), or 'json')"),
    Option("--debug", help="enable debug logging"),
    Option("--systemd-cgroup", help="enable systemd cgroup support (not supported yet)"),
    Option("--rootless", value=True, default="auto", help="ignore cgroup permission errors ('true', 'false', or 'auto')"),
    Option("--criu", value=True, default="criu", help="path to the criu binary (checkpoint is not supported)"),
    Option("--help", "-h", help="show help"),
    Option("--version", "-v", help="print the version"),
)

DEFAULT_ROOT = "/run/pallet/runtime"


class GlobalOptions:
    """The global flags, given to every command."""

    __slots__ = ("debug", "log", "log_format", "root", "systemd_cgroup")

    def __init__(self, values: dict[str, object]) -> None:
        root = str(values.get("root") or os.environ.get("PALLET_RUNTIME_ROOT") or DEFAULT_ROOT)
        self.root = os.path.abspath(root)
        self.log = str(values.get("log") or "")
        self.log_format = str(values.get("log_format") or "text")
        self.debug = bool(values.get("debug"))
        self.systemd_cgroup = bool(values.get("systemd_cgroup"))


def _main_help() -> str:
    lines = [
        "Usage: pallet-runtime [global options] command [command options] [arguments...]",
        "",
        "pallet-runtime is an OCI runtime: it runs containers from OCI bundles, with runc's command line.",
        "",
        "Commands:",
    ]
    width = max(len(n) for n in COMMANDS)
    lines += [f"  {name.ljust(width)}  {summary}" for name, summary in COMMANDS.items()]
    lines.append("")
    lines.append(help_text("", "", GLOBAL_OPTIONS).split("\n", 3)[3].replace("Options:", "Global options:"))
    return "\n".join(lines)


def _split_global(argv: list[str]) -> tuple[list[str], list[str]]:
    """Global options come before the command name."""
    takes_value = {n for o in GLOBAL_OPTIONS if o.takes_value for n in o.names}
    i = 0
    while i < len(argv):
        arg = argv[i]
        if not arg.startswith("-") or arg == "-":
            break
        name = arg.partition("=")[0]
        i += 1
        if name in takes_value and "=" not in arg:
            i += 1
    return argv[:i], argv[i:]


def main(argv: list[str] | None = None) -> int:
    if argv is None:
        # The command line: once the work is done, exit without the interpreter's teardown
        # (milliseconds of freeing objects that the kernel frees at once anyway).
        rc = _main(sys.argv[1:], exiting=True)
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(rc)
    return _main(argv)


def _main(argv: list[str], *, exiting: bool = False) -> int:
    """The command; ``exiting``: the process ends right after (nothing to restore)."""
    from pallet.runtime import log

    preforked = False
    collecting = False
    try:
        gargs, rest = _split_global(argv)
        gvals, _ = parse(gargs, GLOBAL_OPTIONS, command="pallet-runtime")
        if gvals["version"]:
            sys.stdout.write(f"pallet-runtime version {VERSION}\nspec: {SPEC_VERSION}\n")
            return 0
        if gvals["help"] or not rest or rest[0] == "help":
            if len(rest) > 1 and rest[0] == "help":
                return _main([*gargs, rest[1], "--help"])
            sys.stdout.write(_main_help())
            return 0 if gvals["help"] or rest else 1
        g = GlobalOptions(gvals)
        log.configure(g.log, g.log_format, g.debug)
        if g.log_format not in ("text", "json"):
            raise UsageError(f"--log-format {g.log_format!r} is not supported (allowed: text, json)")
        if g.systemd_cgroup:
            raise UsageError("--systemd-cgroup is not supported yet: pallet-runtime manages cgroups with cgroupfs")
        name = ALIASES.get(rest[0], rest[0])
        if name not in COMMANDS:
            raise UsageError(f"no such command {rest[0]!r} (see 'pallet-runtime --help')")
        if name in ("create", "run", "exec"):
            # No cyclic garbage collection: the set-up, the wait and the delete make no cycles
            # worth collecting, and the collector ran 7 times (1.4 ms) in a `run`; turned on
            # again for an in-process caller (a collection of everything allocated meanwhile
            # would be the first thing it pays), not for the command line, which just exits.
            import gc

            collecting = gc.isenabled()
            gc.disable()
        if name in ("create", "run"):
            # Where the container needs an intermediate child, it is forked once the plan is
            # made: it imports what the children need while this process makes the cgroup manager
            # and the state directory, then waits for its orders (see process.prefork).
            from pallet.runtime.process import prefork

            preforked = True
            prefork.enable()
        modname = "pallet.runtime.commands." + name.replace("-", "_")
        __import__(modname)  # not importlib.import_module: importlib imports warnings (~0.3 ms)
        module = sys.modules[modname]
        options: tuple[Option, ...] = (*module.OPTIONS, Option("--help", "-h", help="show help"))
        opts, args = parse(
            rest[1:], options, command=f"pallet-runtime {name}",
            stop_at_positional=getattr(module, "STOP_AT_POSITIONAL", False),
        )
        if opts["help"]:
            sys.stdout.write(help_text(module.USAGE, COMMANDS[name], options))
            return 0
        rc: int = module.run(g, opts, args)
        return rc
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # the one place that turns errors into messages and exit codes
        return _report(exc)
    finally:
        if preforked:
            from pallet.runtime.process import prefork

            prefork.discard()
            # (create started and stopped the warm-up, if the host needed one)
            warmup = sys.modules.get("pallet.runtime.cgroups.warmup")
            waited = warmup.last_wait() if warmup is not None else None
            if waited is not None:
                log.span("the kernel's grace period before cgroup moves (paid by the warm-up thread)", *waited)
        if collecting and not exiting:
            import gc

            gc.enable()


def _report(exc: BaseException) -> int:
    from pallet.errors import PalletError
    from pallet.runtime import log

    if isinstance(exc, PalletError):
        log.error(str(exc))
        code = exc.exit_code
        return code if code in (126, 127) else 1
    if isinstance(exc, OSError):
        log.error(str(exc))
        return 1
    import traceback

    log.error(f"internal error: {exc!r}")
    traceback.print_exc()
    return 1


if __name__ == "__main__":
    sys.exit(main())
