"""Go's text/template, as docker's ``--format`` uses it, written for pallet.

    >>> render("{{.Name | upper}} {{len .Ports}}", {"Name": "web", "Ports": [80, 443]})
    'WEB 2'

Parsing and execution follow Go's text/template (lexer, parser and executor) and Go's fmt for
printing values; docker's template functions (json, join, split, title, lower, upper, pad,
truncate) are always there.  See docs/templates.md for the value model (dict = map, Struct = struct).
"""

from __future__ import annotations

from . import funcs as _funcs
from .executor import State as _State
from .gofmt import format_value, sprint, sprintf
from .parser import Parser as _Parser
from .parser import TemplateError
from .values import NO_VALUE, Struct, go_type, truth

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from typing import Any

    from .executor import FuncTable
    from .nodes import ListNode

    # a function, or (function, fixed number of arguments, variadic)
    FuncSpec = Callable[..., Any] | tuple[Callable[..., Any], int, bool]

__all__ = [
    "NO_VALUE",
    "Struct",
    "Template",
    "TemplateError",
    "format_value",
    "go_type",
    "parse",
    "render",
    "sprint",
    "sprintf",
    "truth",
]

_MISSINGKEY = ("default", "invalid", "zero", "error")


class Template:
    """A parsed template; :meth:`execute` renders it against data."""

    def __init__(self, text: str, root: ListNode, defined: dict[str, ListNode], funcs: FuncTable,
                 name: str = "", missingkey: str = "default") -> None:  # fmt: skip
        self.text = text
        self.name = name
        self.root = root
        self.defined = defined
        self.funcs = funcs
        self.missingkey = missingkey

    def option(self, missingkey: str) -> Template:
        """A copy with Go's ``missingkey`` option: default/invalid (<no value>), zero, error."""
        if missingkey not in _MISSINGKEY:
            raise ValueError(
                f"unrecognized option: missingkey={missingkey} (allowed: {', '.join(_MISSINGKEY)})"
            )
        mode = "default" if missingkey == "invalid" else missingkey
        return Template(self.text, self.root, self.defined, self.funcs, self.name, mode)

    def with_funcs(self, funcs: Mapping[str, FuncSpec]) -> Template:
        """A copy whose functions of the same names are replaced (docker's header functions)."""
        table = dict(self.funcs)
        table.update(_as_table(funcs))
        return Template(self.text, self.root, self.defined, table, self.name, self.missingkey)

    def execute(self, data: Any) -> str:
        """Render against ``data``; raises TemplateError (with Go's message) on failure."""
        out: list[str] = []
        self.execute_into(out, data)
        return "".join(out)

    def execute_into(self, out: list[str], data: Any) -> None:
        """Render into ``out``; on an error, what was written before it stays in ``out``."""
        state = _State(self.text, self.name, self.name, self.funcs, self.defined, self.missingkey)
        state.out = out
        state.vars = [["$", data]]
        try:
            state.walk(data, self.root)
        except RecursionError:
            raise TemplateError(f"template: {self.name}: exceeded maximum template depth") from None


def _as_table(funcs: Mapping[str, FuncSpec] | None) -> FuncTable:
    table: FuncTable = {}
    for name, func in (funcs or {}).items():
        if isinstance(func, tuple):
            table[name] = func
        else:
            fixed, variadic = _funcs.arity(func)
            table[name] = (func, fixed, variadic)
    return table


def parse(text: str, funcs: Mapping[str, FuncSpec] | None = None, name: str = "",
          docker_funcs: bool = True) -> Template:  # fmt: skip
    """Parse ``text`` with Go's builtins, docker's functions and ``funcs``."""
    table: FuncTable = dict(_funcs.BUILTINS)
    if docker_funcs:
        table.update(_funcs.DOCKER)
    table.update(_as_table(funcs))
    parser = _Parser(text, name, table)
    try:
        root = parser.parse()
    except RecursionError:
        raise TemplateError(f"template: {name}: template nested too deeply") from None
    return Template(text, root, parser.defined, table, name)


def render(text: str, data: Any, funcs: Mapping[str, FuncSpec] | None = None) -> str:
    """Parse and execute in one step."""
    return parse(text, funcs).execute(data)
