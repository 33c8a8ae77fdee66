"""The common command lines parsed without argparse (whose import and parser building cost ~10 ms).

A command's ``configure(parser)`` is called with a ``FastParser``, which records the flags and
positionals it declares.  ``parse(argv)`` returns the namespace argparse would return for the plain
cases: long flags (``--name x``, ``--name=x``), short flags and clusters (``-it``, ``-eFOO=1``,
``-p 80:80``), ``store``/``store_true``/``store_false``/``append`` actions, ``type``, ``choices``,
and positionals (one value, ``?``, ``*``, ``+``, or the rest of the line with ``...``).

Anything else returns None and the caller parses with argparse, which then gives its usual help or
error: ``--help``, an unknown or abbreviated flag, a missing or odd-looking value (``--name -x``), a
flag after the positionals, ``--``, a value that ``type`` or ``choices`` refuses, or a declaration
this parser does not know (``configure`` then raises ``Unsupported`` and the caller falls back).
The unit tests compare both parsers' results on many command lines.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

REMAINDER = "..."  # argparse.REMAINDER's value
_ACTIONS = (None, "store", "store_true", "store_false", "append")
_OPTION_KEYS = {"action", "help", "default", "type", "dest", "metavar", "choices"}
_POSITIONAL_KEYS = {"help", "default", "type", "metavar", "nargs", "choices"}


class Unsupported(Exception):
    """A declaration the fast parser does not handle: parse this command with argparse."""


class Namespace:
    """The parsed flags as attributes (argparse.Namespace's behaviour for the commands' use)."""

    def __init__(self, **values: object) -> None:
        self.__dict__.update(values)

    def __contains__(self, key: str) -> bool:
        return key in self.__dict__

    def __eq__(self, other: object) -> bool:
        return vars(self) == vars(other) if hasattr(other, "__dict__") else NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return "Namespace(" + ", ".join(f"{k}={v!r}" for k, v in sorted(self.__dict__.items())) + ")"


class _Arg:
    __slots__ = ("action", "choices", "default", "dest", "nargs", "type")

    def __init__(self, dest: str, action: str, default: object, type: Callable[[str], object] | None,
                 nargs: str | None, choices: Sequence[object] | None) -> None:
        self.dest = dest
        self.action = action
        self.default = default
        self.type = type
        self.nargs = nargs
        self.choices = choices

    def convert(self, text: str) -> object:
        value = self.type(text) if self.type is not None else text
        if self.choices is not None and value not in self.choices:
            raise ValueError(f"{value!r} is not a choice")
        return value


def _is_negative_number(text: str) -> bool:
    """argparse's test for '-5' or '-.5', which it takes as a value, not a flag."""
    body = text[1:]
    whole, dot, frac = body.partition(".")
    if dot:
        return (not whole or whole.isdigit()) and frac.isdigit() and frac.isascii()
    return body.isdigit() and body.isascii()


def _looks_like_flag(text: str) -> bool:
    """What argparse may take for a flag (a few it takes as values, like "-x y", fall back to it)."""
    return text.startswith("-") and text != "-" and not _is_negative_number(text)


class FastParser:
    """Records ``add_argument`` calls; ``parse`` does what argparse would for the plain cases."""

    def __init__(self) -> None:
        self.options: dict[str, _Arg] = {}
        self.positionals: list[_Arg] = []
        self.dests: dict[str, _Arg] = {}

    def add_argument(self, *names: str, **kw: object) -> None:
        if not names:
            raise Unsupported("add_argument without a name")
        nargs = kw.get("nargs")
        choices = kw.get("choices")
        if choices is not None and not isinstance(choices, (list, tuple, set, frozenset, dict)):
            raise Unsupported("choices of an unknown kind")
        type_ = kw.get("type")
        if type_ is not None and (not callable(type_) or isinstance(kw.get("default"), str)):
            raise Unsupported("type is not callable, or converts a default string (argparse does it late)")
        if names[0].startswith("-"):
            action = kw.get("action")
            if set(kw) - _OPTION_KEYS or action not in _ACTIONS or not all(n.startswith("-") for n in names):
                raise Unsupported(f"option {names[0]}: {sorted(kw)}")
            longs = [n for n in names if n.startswith("--")]
            dest = str(kw.get("dest") or (longs[0][2:] if longs else names[0][1:]).replace("-", "_"))
            kind = str(action or "store")
            if kind == "store_true":
                default = kw.get("default", False)
            elif kind == "store_false":
                default = kw.get("default", True)
            else:
                default = kw.get("default")
            arg = _Arg(dest, kind, default, type_, None, choices)  # type: ignore[arg-type]
            for name in names:
                if name in self.options or name in ("--", "-") or (name[1] != "-" and len(name) != 2):
                    raise Unsupported(f"option string {name!r}")
                self.options[name] = arg
        else:
            if len(names) != 1 or set(kw) - _POSITIONAL_KEYS or nargs not in (None, "?", "*", "+", REMAINDER):
                raise Unsupported(f"positional {names[0]}: {sorted(kw)}")
            if self.positionals and self.positionals[-1].nargs is not None:
                raise Unsupported("a positional after one with nargs")
            default = kw.get("default", [] if nargs == "*" and "default" not in kw else None)
            arg = _Arg(names[0], "store", default, type_, nargs, choices)  # type: ignore[arg-type]
            self.positionals.append(arg)
        if arg.dest in self.dests:
            raise Unsupported(f"two arguments store into {arg.dest!r}")
        self.dests[arg.dest] = arg

    def __getattr__(self, name: str) -> object:
        raise Unsupported(f"parser.{name}")

    # -- parsing ----------------------------------------------------------------------------------

    def parse(self, argv: Sequence[str]) -> Namespace | None:
        """The namespace argparse would return, or None where argparse must decide."""
        values: dict[str, object] = {}
        for arg in self.dests.values():
            default = arg.default
            if isinstance(default, list):
                default = list(default)
            values[arg.dest] = default
        i = 0
        n = len(argv)
        while i < n:
            text = argv[i]
            if not _looks_like_flag(text):
                break
            if text == "--":
                return None
            i += 1
            if text.startswith("--"):
                name, eq, inline = text.partition("=")
                opt = self.options.get(name)
                if opt is None:
                    return None
                if opt.action in ("store_true", "store_false"):
                    if eq:
                        return None
                    values[opt.dest] = opt.action == "store_true"
                    continue
                if not eq:
                    if i >= n or _looks_like_flag(argv[i]):
                        return None
                    inline = argv[i]
                    i += 1
                if not self._store(opt, inline, values):
                    return None
                continue
            # single dash: "-x", "-x=VALUE", "-xVALUE", a cluster of flags "-it"
            name, eq, inline = text.partition("=")
            if eq and name in self.options and self.options[name].action not in ("store_true", "store_false"):
                if not self._store(self.options[name], inline, values):
                    return None
                continue
            if any(s != text and s.startswith(text) for s in self.options):
                return None  # argparse may see an abbreviation here
            rest = text[1:]
            while rest:
                opt = self.options.get("-" + rest[0])
                if opt is None:
                    return None
                rest = rest[1:]
                if opt.action in ("store_true", "store_false"):
                    values[opt.dest] = opt.action == "store_true"
                    continue
                if not rest:
                    if i >= n or _looks_like_flag(argv[i]):
                        return None
                    rest = argv[i]
                    i += 1
                if not self._store(opt, rest, values):
                    return None
                rest = ""
        if not self._positionals(list(argv[i:]), values):
            return None
        return Namespace(**values)

    def _store(self, opt: _Arg, text: str, values: dict[str, object]) -> bool:
        try:
            value = opt.convert(text)
        except Exception:  # argparse words the error
            return False
        if opt.action == "append":
            current = values[opt.dest]
            values[opt.dest] = [*current, value] if isinstance(current, list) else [value]
        else:
            values[opt.dest] = value
        return True

    def _positionals(self, rest: list[str], values: dict[str, object]) -> bool:
        if "--" in rest:
            return False  # argparse drops one "--" (from the positionals, the rest of the line too)
        specs = self.positionals
        tail = specs[-1].nargs if specs else None
        singles = specs[:-1] if tail is not None else specs
        if len(rest) < len(singles) or any(_looks_like_flag(t) for t in rest[:len(singles)]):
            return False
        remaining = rest[len(singles):]
        if tail != REMAINDER and any(_looks_like_flag(t) for t in remaining):
            return False  # a flag after the positionals: argparse's rules for mixing them
        try:
            for spec, text in zip(singles, rest[:len(singles)], strict=True):
                values[spec.dest] = spec.convert(text)
            if tail is None:
                return not remaining
            last = specs[-1]
            if tail == "?":
                if len(remaining) > 1:
                    return False
                if remaining:
                    values[last.dest] = last.convert(remaining[0])
            elif tail == "+" and not remaining:
                return False
            elif tail == REMAINDER:
                values[last.dest] = list(remaining)
            elif remaining or tail == "+":
                values[last.dest] = [last.convert(t) for t in remaining]
        except Exception:
            return False
        return True
