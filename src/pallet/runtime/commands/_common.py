"""Options and helpers shared by the runtime's commands."""

from __future__ import annotations

import os

from pallet.runtime.cliparse import Option, UsageError

CREATE_OPTIONS = (
    Option("--bundle", "-b", value=True, default="", help="path to the root of the bundle directory, defaults to the current directory"),
    Option("--console-socket", value=True, default="", help="path to an AF_UNIX socket which will receive a file descriptor referencing the master end of the console's pseudoterminal"),
    Option("--pid-file", value=True, default="", help="specify the file to write the process id to"),
    Option("--no-pivot", help="do not use pivot root to jail process inside rootfs (for a ramfs root)"),
    Option("--no-new-keyring", help="do not create a new session keyring for the container"),
    Option("--preserve-fds", value=True, default="0", help="pass N additional file descriptors to the container (stdio + $LISTEN_FDS + N in total)"),
)


def container_id(args: list[str], command: str, extra: int = 0) -> str:
    if not args:
        raise UsageError(f"'{command}' requires a container id (see 'pallet-runtime {command} --help')")
    if len(args) > 1 + extra:
        raise UsageError(f"'{command}' takes {'one argument' if not extra else f'at most {1 + extra} arguments'}, got {len(args)}: {' '.join(args)}")
    return args[0]


def non_negative_int(text: str, flag: str) -> int:
    """``text``, the value of ``flag``, as an integer >= 0 (or a usage error naming both)."""
    try:
        n = int(text)
    except ValueError:
        raise UsageError(f"{flag} {text!r} is not an integer") from None
    if n < 0:
        raise UsageError(f"{flag} {text!r} must not be negative")
    return n


def int_option(opts: dict[str, object], name: str, flag: str) -> int:
    return non_negative_int(str(opts[name]), flag)


def create_options(opts: dict[str, object]) -> object:
    from pallet.runtime.lifecycle import CreateOptions

    preserve = int_option(opts, "preserve_fds", "--preserve-fds")
    listen = os.environ.get("LISTEN_FDS", "")
    if listen.isdigit():
        preserve += int(listen)
    pid_file = str(opts["pid_file"])
    return CreateOptions(
        pid_file=os.path.abspath(pid_file) if pid_file else "",
        console_socket=os.path.abspath(str(opts["console_socket"])) if opts["console_socket"] else "",
        no_pivot=bool(opts["no_pivot"]),
        no_new_keyring=bool(opts["no_new_keyring"]),
        preserve_fds=preserve,
    )


def bundle_of(opts: dict[str, object]) -> str:
    return os.path.abspath(str(opts["bundle"]) or ".")
