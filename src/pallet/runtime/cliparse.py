"""A small command-line parser for ``pallet-runtime``, shaped like runc's.

argparse costs milliseconds to import and to build a parser for every command; the runtime's command
line is small and fixed, so it is parsed here with a table of options per command.  Accepted forms:
``--flag value``, ``--flag=value``, ``-f value``, boolean ``--flag`` (and ``--flag=true|false``),
repeatable options, and ``--`` to end the options.  Options may come before or after positional
arguments, as with runc, except after the first positional argument of ``exec`` and ``run``-like
commands that take a command line (``stop_at_positional``).
"""

from __future__ import annotations

from pallet.errors import ConfigError


class Option:
    """One option: its names, whether it takes a value, whether it repeats, and its help line."""

    __slots__ = ("default", "dest", "help", "metavar", "multiple", "names", "takes_value")

    def __init__(
        self,
        *names: str,
        value: bool = False,
        multiple: bool = False,
        default: object = None,
        help: str = "",
        metavar: str = "VALUE",
        dest: str | None = None,
    ) -> None:
        self.names = names
        self.takes_value = value or multiple
        self.multiple = multiple
        self.default = ([] if multiple else default) if default is None else default
        if not self.takes_value and default is None:
            self.default = False
        self.help = help
        self.metavar = metavar
        self.dest = dest or names[0].lstrip("-").replace("-", "_")


class UsageError(ConfigError):
    """The command line is wrong."""


def _truth(option: str, text: str) -> bool:
    low = text.lower()
    if low in ("1", "t", "true", "yes"):
        return True
    if low in ("0", "f", "false", "no"):
        return False
    raise UsageError(f"invalid boolean value {text!r} for flag {option}: use true or false")


def parse(
    argv: list[str], options: tuple[Option, ...], *, command: str, stop_at_positional: bool = False
) -> tuple[dict[str, object], list[str]]:
    """Parse ``argv`` against ``options``; return (values by dest, positional arguments)."""
    by_name: dict[str, Option] = {}
    for opt in options:
        for name in opt.names:
            by_name[name] = opt
    values: dict[str, object] = {}
    for opt in options:
        values[opt.dest] = list(opt.default) if isinstance(opt.default, list) else opt.default
    positional: list[str] = []
    i = 0
    n = len(argv)
    while i < n:
        arg = argv[i]
        i += 1
        if arg == "--":
            positional.extend(argv[i:])
            break
        if len(arg) > 1 and arg[0] == "-" and not (stop_at_positional and positional):
            name, eq, inline = arg.partition("=")
            found = by_name.get(name)
            if found is None:
                raise UsageError(f"flag provided but not defined: {name} (see '{command} --help')")
            opt = found
            if opt.takes_value:
                if eq:
                    value = inline
                else:
                    if i >= n:
                        raise UsageError(f"flag needs an argument: {name}")
                    value = argv[i]
                    i += 1
                if opt.multiple:
                    current = values[opt.dest]
                    assert isinstance(current, list)
                    current.append(value)
                else:
                    values[opt.dest] = value
            else:
                values[opt.dest] = _truth(name, inline) if eq else True
            continue
        positional.append(arg)
    return values, positional


def help_text(usage: str, summary: str, options: tuple[Option, ...]) -> str:
    """The --help text of one command."""
    lines = [f"Usage: {usage}", "", summary, ""]
    if options:
        lines.append("Options:")
        rows = []
        for opt in options:
            shown = ", ".join(opt.names)
            if opt.takes_value:
                shown += " " + opt.metavar
            rows.append((shown, opt.help))
        width = max(len(r[0]) for r in rows)
        for shown, text in rows:
            lines.append(f"  {shown.ljust(width)}  {text}")
    return "\n".join(lines) + "\n"
