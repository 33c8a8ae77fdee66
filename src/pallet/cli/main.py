"""The `pallet` command line: global flags, the command table, and the one exit-code ladder.

Nothing here imports a command before it is chosen: ``pallet --help`` reads only COMMANDS.  A command
is a module with two functions::

    def configure(parser: argparse.ArgumentParser) -> None   # add the command's flags
    def run(args: argparse.Namespace, ctx: Context) -> int     # do it; return the exit code

Errors are raised, never printed by commands: every exception ends in ``exit_code_for`` (one place).
"""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse
    from collections.abc import Callable, Sequence

    from pallet.engine.service import Engine

_C = "pallet.cli.commands."

# name -> (module, one-line help).  A name with a space is a management sub-command
# ("container ls"); several names may share one module (docker's aliases).
COMMANDS: dict[str, tuple[str, str]] = {
    # containers (engine)
    "run": (_C + "run", "Create and run a new container from an image"),
    "create": (_C + "create", "Create a new container"),
    "start": (_C + "start", "Start one or more stopped containers"),
    "stop": (_C + "stop", "Stop one or more running containers"),
    "kill": (_C + "kill", "Kill one or more running containers"),
    "restart": (_C + "restart", "Restart one or more containers"),
    "rm": (_C + "rm", "Remove one or more containers"),
    "pause": (_C + "pause", "Pause all processes within one or more containers"),
    "unpause": (_C + "unpause", "Unpause all processes within one or more containers"),
    "wait": (_C + "wait", "Block until one or more containers stop, then print their exit codes"),
    "rename": (_C + "rename", "Rename a container"),
    "update": (_C + "update", "Update configuration of one or more containers"),
    "ps": (_C + "ps", "List containers"),
    "logs": (_C + "logs", "Fetch the logs of a container"),
    "exec": (_C + "exec", "Execute a command in a running container"),
    "inspect": (_C + "inspect", "Return low-level information on pallet objects"),
    "top": (_C + "top", "Display the running processes of a container"),
    "stats": (_C + "stats", "Display a live stream of container(s) resource usage statistics"),
    "cp": (_C + "cp", "Copy files/folders between a container and the local filesystem"),
    "events": (_C + "events", "Get real time events from pallet"),
    "info": (_C + "info", "Display system-wide information"),
    "version": (_C + "version", "Show the pallet version information"),
    "container run": (_C + "run", "Create and run a new container from an image"),
    "container create": (_C + "create", "Create a new container"),
    "container start": (_C + "start", "Start one or more stopped containers"),
    "container stop": (_C + "stop", "Stop one or more running containers"),
    "container kill": (_C + "kill", "Kill one or more running containers"),
    "container restart": (_C + "restart", "Restart one or more containers"),
    "container rm": (_C + "rm", "Remove one or more containers"),
    "container pause": (_C + "pause", "Pause all processes within one or more containers"),
    "container unpause": (_C + "unpause", "Unpause all processes within one or more containers"),
    "container wait": (_C + "wait", "Block until one or more containers stop"),
    "container rename": (_C + "rename", "Rename a container"),
    "container update": (_C + "update", "Update configuration of one or more containers"),
    "container ls": (_C + "ps", "List containers"),
    "container list": (_C + "ps", "List containers"),
    "container ps": (_C + "ps", "List containers"),
    "container logs": (_C + "logs", "Fetch the logs of a container"),
    "container exec": (_C + "exec", "Execute a command in a running container"),
    "container inspect": (_C + "inspect_container", "Display detailed information on one or more containers"),
    "container top": (_C + "top", "Display the running processes of a container"),
    "container stats": (_C + "stats", "Display a live stream of container(s) resource usage statistics"),
    "container cp": (_C + "cp", "Copy files/folders between a container and the local filesystem"),
    "container prune": (_C + "container_prune", "Remove all stopped containers"),
    "system prune": (_C + "system_prune", "Remove unused data"),
    "system info": (_C + "info", "Display system-wide information"),
    "system events": (_C + "events", "Get real time events from pallet"),
    # images (image and registry engineers add theirs here)
    "pull": (_C + "pull", "Download an image from a registry"),
    "push": (_C + "push", "Upload an image to a registry"),
    "login": (_C + "login", "Log in to a registry"),
    "logout": (_C + "logout", "Log out from a registry"),
    "image pull": (_C + "pull", "Download an image from a registry"),
    "image push": (_C + "push", "Upload an image to a registry"),
    "images": (_C + "images", "List images"),
    "tag": (_C + "tag", "Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE"),
    "rmi": (_C + "rmi", "Remove one or more images"),
    "history": (_C + "history", "Show the history of an image"),
    "load": (_C + "load", "Load an image from a tar archive or STDIN"),
    "save": (_C + "save", "Save one or more images to a tar archive (streamed to STDOUT by default)"),
    "import": (_C + "image_import", "Import the contents from a tarball to create a filesystem image"),
    "commit": (_C + "commit", "Create a new image from a container's changes"),
    "diff": (_C + "diff", "Inspect changes to files or directories on a container's filesystem"),
    "export": (_C + "export", "Export a container's filesystem as a tar archive"),
    "image ls": (_C + "images", "List images"),
    "image list": (_C + "images", "List images"),
    "image tag": (_C + "tag", "Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE"),
    "image rm": (_C + "rmi", "Remove one or more images"),
    "image remove": (_C + "rmi", "Remove one or more images"),
    "image inspect": (_C + "image_inspect", "Display detailed information on one or more images"),
    "image history": (_C + "history", "Show the history of an image"),
    "image prune": (_C + "image_prune", "Remove unused images"),
    "image load": (_C + "load", "Load an image from a tar archive or STDIN"),
    "image save": (_C + "save", "Save one or more images to a tar archive (streamed to STDOUT by default)"),
    "image import": (_C + "image_import", "Import the contents from a tarball to create a filesystem image"),
    "image build-busybox": (_C + "image_build_busybox", "Make the busybox image from the host's busybox-static"),
    "container commit": (_C + "commit", "Create a new image from a container's changes"),
    "container diff": (_C + "diff", "Inspect changes to files or directories on a container's filesystem"),
    "container export": (_C + "export", "Export a container's filesystem as a tar archive"),
    # networks (network engineer adds theirs here)
    "network create": (_C + "network_create", "Create a network"),
    "network ls": (_C + "network_ls", "List networks"),
    "network list": (_C + "network_ls", "List networks"),
    "network inspect": (_C + "network_inspect", "Display detailed information on one or more networks"),
    "network rm": (_C + "network_rm", "Remove one or more networks"),
    "network remove": (_C + "network_rm", "Remove one or more networks"),
    "network prune": (_C + "network_prune", "Remove all unused networks"),
    "network connect": (_C + "network_connect", "Connect a container to a network"),
    "network disconnect": (_C + "network_disconnect", "Disconnect a container from a network"),
    "port": (_C + "port", "List port mappings or a specific mapping for the container"),
    # volumes
    "volume create": (_C + "volume_create", "Create a volume"),
    "volume ls": (_C + "volume_ls", "List volumes"),
    "volume list": (_C + "volume_ls", "List volumes"),
    "volume inspect": (_C + "volume_inspect", "Display detailed information on one or more volumes"),
    "volume rm": (_C + "volume_rm", "Remove one or more volumes"),
    "volume remove": (_C + "volume_rm", "Remove one or more volumes"),
    "volume prune": (_C + "volume_prune", "Remove unused local volumes"),
    "container port": (_C + "port", "List port mappings or a specific mapping for the container"),
}

GROUP_HELP = {
    "container": "Manage containers",
    "image": "Manage images",
    "network": "Manage networks",
    "volume": "Manage volumes",
    "system": "Manage pallet",
}

DEFAULT_ROOT = "/var/lib/pallet"
DEFAULT_RUNROOT = "/run/pallet"
LOG_LEVELS = ("debug", "info", "warn", "error", "fatal")


class UsageError(Exception):
    """A command line that does not parse: exit 125 for a flag (unknown, missing its value, a value
    of the wrong form), as docker's flag errors; ``exit_code=1`` for a wrong number of arguments or
    an unknown command, which docker reports as plain errors.  ``hint=False``: printed as one
    ``Error:`` line, without the pointer to the command's help (a flag's value found wrong by the
    command itself, e.g. ``--memory lots``)."""

    def __init__(self, message: str, command: str = "", *, exit_code: int = 125, hint: bool = True) -> None:
        self.command = command
        self.exit_code = exit_code
        self.hint = hint
        super().__init__(message)


# The commands whose failures exit 125 (126/127 for the container's command), as docker's `run`
# does; every other command exits 1 on an error (docker's CLI turns any error that is not a
# status error into 1: "No such container", a conflict, a failed pull...).
RUN_COMMANDS = ("run", "container run")


def argparse_usage_error(message: str, command: str) -> UsageError:
    """argparse's complaint as a UsageError: missing or extra arguments exit 1, flag errors 125."""
    exit_code = 125
    if message.startswith("the following arguments are required"):
        exit_code = 1
    elif message.startswith("unrecognized arguments:"):
        if not any(word.startswith("-") for word in message.partition(":")[2].split()):
            exit_code = 1
    return UsageError(message, command, exit_code=exit_code)


class Context:
    """What every command gets: the state roots, the log level, and stores opened on first use."""

    def __init__(self, root: str, runroot: str, log_level: str = "warn") -> None:
        self.root = root
        self.runroot = runroot
        self.log_level = log_level
        self._cache: dict[str, object] = {}
        self._engine: Engine | None = None

    def lazy(self, key: str, factory: Callable[[], object]) -> object:
        """One object per context under ``key``, built by ``factory`` the first time it is asked for."""
        if key not in self._cache:
            self._cache[key] = factory()
        return self._cache[key]

    def engine(self) -> Engine:
        """The container engine on this context's roots."""
        if self._engine is None:
            from pallet.engine.service import Engine

            self._engine = Engine(self.root, self.runroot)
        return self._engine

    def debug(self, message: str) -> None:
        if self.log_level == "debug":
            print(f"DEBU {message}", file=sys.stderr)

    def warn(self, message: str) -> None:
        if self.log_level in ("debug", "info", "warn"):
            print(f"WARNING: {message}", file=sys.stderr)


def exit_code_for(exc: BaseException, command: str = "") -> tuple[int, str]:
    """The exit code and the message printed for an exception raised by ``command``: the one
    ladder of the CLI.  As docker's: flag errors 125 for every command; the other errors of
    ``run`` 125 (126/127 when the container's command cannot be run); those of every other
    command 1, unless the error carries its own code (126/127 of exec)."""
    from pallet.errors import PalletError

    if isinstance(exc, UsageError):
        if not exc.hint:
            return exc.exit_code, f"Error: {exc}"
        hint = f"\nSee 'pallet {exc.command} --help'." if exc.command else "\nSee 'pallet --help'."
        return exc.exit_code, f"pallet: {exc}{hint}"
    if isinstance(exc, KeyboardInterrupt):
        return 130, ""
    if isinstance(exc, BrokenPipeError):
        return 0, ""
    failed = 125 if command in RUN_COMMANDS else 1
    if isinstance(exc, PalletError):
        return (failed if exc.exit_code == 125 else exc.exit_code), f"Error: {exc}"
    if isinstance(exc, PermissionError):
        return failed, f"Error: permission denied: {exc} (pallet needs root)"
    if isinstance(exc, OSError):
        return failed, f"Error: {exc}"
    return failed, f"Error: internal error: {type(exc).__name__}: {exc}"


def _parse_globals(argv: list[str]) -> tuple[dict[str, str], list[str]]:
    """Global flags before the command name; returns them and the rest of the line."""
    opts: dict[str, str] = {}
    i = 0
    takes_value = {"--root": "root", "--runroot": "runroot", "--log-level": "log_level", "-l": "log_level"}
    while i < len(argv) and argv[i].startswith("-") and argv[i] != "-":
        arg = argv[i]
        name, eq, value = arg.partition("=")
        if name in takes_value:
            if not eq:
                if i + 1 >= len(argv):
                    raise UsageError(f"flag needs an argument: {name}")
                i += 1
                value = argv[i]
            opts[takes_value[name]] = value
        elif arg in ("-D", "--debug"):
            opts["log_level"] = "debug"
        elif arg in ("-h", "--help"):
            opts["help"] = "1"
        elif arg in ("-v", "--version"):
            opts["version"] = "1"
        else:
            raise UsageError(f"unknown flag: {arg}")
        i += 1
    level = opts.get("log_level", "warn")
    if level not in LOG_LEVELS:
        raise UsageError(f'invalid --log-level "{level}" (allowed: {", ".join(LOG_LEVELS)})', exit_code=1)
    return opts, argv[i:]


def find_command(words: list[str]) -> tuple[str, list[str]] | None:
    """The longest command name at the start of ``words`` (``container ls``, then ``ps``)."""
    if len(words) >= 2 and f"{words[0]} {words[1]}" in COMMANDS:
        return f"{words[0]} {words[1]}", words[2:]
    if words and words[0] in COMMANDS:
        return words[0], words[1:]
    return None


def groups() -> dict[str, list[str]]:
    """Management commands and their sub-commands, from the table."""
    out: dict[str, list[str]] = {}
    for name in COMMANDS:
        if " " in name:
            group, _, sub = name.partition(" ")
            out.setdefault(group, []).append(sub)
    return out


def main_help(group: str | None = None) -> str:
    lines: list[str] = []
    if group:
        lines += [f"Usage:  pallet {group} COMMAND", "", GROUP_HELP.get(group, ""), "", "Commands:"]
        for sub in sorted(groups().get(group, [])):
            lines.append(f"  {sub:<12}{COMMANDS[group + ' ' + sub][1]}")
        lines += ["", f"Run 'pallet {group} COMMAND --help' for more information on a command."]
        return "\n".join(lines) + "\n"
    lines += [
        "Usage:  pallet [OPTIONS] COMMAND",
        "",
        "A daemonless, Docker-compatible container engine",
        "",
        "Commands:",
    ]
    for name, (_mod, text) in COMMANDS.items():
        if " " not in name:
            lines.append(f"  {name:<12}{text}")
    lines += ["", "Management Commands:"]
    for group in sorted(groups()):
        lines.append(f"  {group:<12}{GROUP_HELP.get(group, '')}")
    lines += [
        "",
        "Global Options:",
        f"      --root string       Root of persistent state (env PALLET_ROOT, default {DEFAULT_ROOT})",
        f"      --runroot string    Root of runtime state (env PALLET_RUNROOT, default {DEFAULT_RUNROOT})",
        '  -l, --log-level string  Set the logging level ("debug", "info", "warn", "error", "fatal")',
        "  -D, --debug             Enable debug mode",
        "  -h, --help              Print usage",
        "  -v, --version           Print version information and quit",
        "",
        "Run 'pallet COMMAND --help' for more information on a command.",
    ]
    return "\n".join(lines) + "\n"


def build_parser(name: str, module: object) -> argparse.ArgumentParser:
    """The argparse parser of one command, with errors turned into UsageError (exit 125)."""
    import argparse

    class _Parser(argparse.ArgumentParser):
        def error(self, message: str) -> None:  # type: ignore[override]
            raise argparse_usage_error(message, name)

    def formatter(prog: str) -> argparse.HelpFormatter:
        # argparse makes a formatter for every add_argument; without a width it imports shutil
        # (~3.5 ms with its compression modules) to ask the terminal's: ask os directly.
        try:
            width = os.get_terminal_size().columns - 2
        except OSError:
            width = int(os.environ.get("COLUMNS") or 80) - 2
        return argparse.HelpFormatter(prog, width=max(width, 40))

    parser = _Parser(prog=f"pallet {name}", description=COMMANDS[name][1], add_help=False,
                     formatter_class=formatter)
    module.configure(parser)  # type: ignore[attr-defined]
    try:
        parser.add_argument("-h", "--help", action="help", help="Print usage")
    except argparse.ArgumentError:  # the command uses -h itself (run -h is --hostname, as docker's)
        parser.add_argument("--help", action="help", help="Print usage")
    return parser


def fast_parse(module: object, argv: Sequence[str]) -> object | None:
    """The command's flags parsed without argparse (pallet.cli.fastargs), or None: argparse's turn
    (help, errors, anything unusual)."""
    from pallet.cli.fastargs import FastParser, Unsupported

    parser = FastParser()
    try:
        module.configure(parser)  # type: ignore[attr-defined]
    except Unsupported:
        return None
    return parser.parse(argv)


def dispatch(argv: Sequence[str], chosen: list[str] | None = None) -> int:
    """Run the command line; the command's name is appended to ``chosen`` once it is known."""
    opts, rest = _parse_globals(list(argv))
    if "version" in opts:
        from pallet import __version__

        print(f"pallet version {__version__}")
        return 0
    if not rest or "help" in opts:
        sys.stdout.write(main_help())
        return 0
    found = find_command(rest)
    if found is None:
        if rest[0] in groups():
            if len(rest) == 1 or rest[1] in ("-h", "--help"):
                sys.stdout.write(main_help(rest[0]))
                return 0
            raise UsageError(f"'{rest[0]} {rest[1]}' is not a pallet command", rest[0], exit_code=1)
        raise UsageError(f"'{rest[0]}' is not a pallet command", exit_code=1)
    name, cmd_args = found
    if chosen is not None:
        chosen.append(name)
    __import__(COMMANDS[name][0])
    module = sys.modules[COMMANDS[name][0]]
    args = fast_parse(module, cmd_args)
    if args is None:
        args = build_parser(name, module).parse_args(cmd_args)
    ctx = Context(
        root=opts.get("root") or os.environ.get("PALLET_ROOT") or DEFAULT_ROOT,
        runroot=opts.get("runroot") or os.environ.get("PALLET_RUNROOT") or DEFAULT_RUNROOT,
        log_level=opts.get("log_level", "warn"),
    )
    return int(module.run(args, ctx))


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line ``argv``; returns the exit code.

    Without ``argv`` (the ``pallet`` program): once the command is done and stdout/stderr are
    flushed, the process exits at once, without the interpreter's teardown (freeing every object
    and module costs milliseconds that the kernel does at once anyway)."""
    if argv is None:
        code = _main(sys.argv[1:])
        threading = sys.modules.get("threading")
        if threading is not None and any(t.is_alive() and not t.daemon for t in threading.enumerate()
                                         if t is not threading.main_thread()):
            return code  # the interpreter's exit waits for them
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        except BaseException:
            code = code or 125
        finally:
            os._exit(code)
    return _main(argv)


def _main(argv: Sequence[str]) -> int:
    chosen: list[str] = []
    try:
        code = dispatch(argv, chosen)
        sys.stdout.flush()
        return code
    except SystemExit as exc:  # argparse's --help
        return exc.code if isinstance(exc.code, int) else 0
    except BaseException as exc:
        code, message = exit_code_for(exc, chosen[0] if chosen else "")
        if message:
            print(message, file=sys.stderr)
        if isinstance(exc, BrokenPipeError):
            # Python would complain again when it flushes stdout at exit.
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        return code


if __name__ == "__main__":
    sys.exit(main())
