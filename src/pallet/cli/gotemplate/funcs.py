"""The functions a template can call: Go's builtins and docker's additions (json, join, ...).

A function raises :class:`FuncError` for an error Go returns from the call ("error calling index:
index out of range: 5"), and :class:`ArgTypeError` for an argument of the wrong type (Go's
"wrong type for value; expected string; got int").
"""

from __future__ import annotations

from . import gofmt
from .values import NO_VALUE, Struct, go_type, truth

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any


class FuncError(Exception):
    """An error returned by a template function."""


class ArgTypeError(Exception):
    """An argument whose type the function cannot take; ``index`` is its position."""

    def __init__(self, message: str, index: int = 0) -> None:
        super().__init__(message)
        self.index = index


def _want_str(v: Any, index: int = 0) -> str:
    if isinstance(v, str):
        return v
    raise ArgTypeError(f"wrong type for value; expected string; got {go_type(v)}", index)


def _want_int(v: Any, index: int = 0) -> int:
    if isinstance(v, int) and not isinstance(v, bool):
        return v
    raise ArgTypeError(f"wrong type for value; expected int; got {go_type(v)}", index)


# ---- Go builtins


def _not(v: Any) -> bool:
    return not truth(v)


def _len(v: Any) -> int:
    if v is None or v is NO_VALUE:
        raise FuncError("len of nil pointer")
    if isinstance(v, str):
        return len(v.encode())
    if isinstance(v, list | tuple | dict | bytes) and not isinstance(v, Struct):
        return len(v)
    raise FuncError(f"len of type {go_type(v)}")


def _index_arg(i: Any, cap: int) -> int:
    if isinstance(i, bool) or not isinstance(i, int):
        raise FuncError(f"cannot index slice/array with type {go_type(i)}")
    if i < 0 or i >= cap:
        raise FuncError(f"index out of range: {i}")
    return i


def _index(item: Any, *indexes: Any) -> Any:
    for i in indexes:
        if item is None or item is NO_VALUE:
            raise FuncError("index of untyped nil")
        if isinstance(item, str):
            item = item.encode()[_index_arg(i, len(item.encode()))]
        elif isinstance(item, list | tuple | bytes):
            item = item[_index_arg(i, len(item))]
        elif isinstance(item, dict) and not isinstance(item, Struct):
            if i is not None and not isinstance(i, str):
                raise FuncError(f"value has type {go_type(i)}; should be string")
            item = item.get(i) if i is not None else None
        else:
            raise FuncError(f"can't index item of type {go_type(item)}")
    return item


def _slice(item: Any, *indexes: Any) -> Any:
    if item is None or item is NO_VALUE:
        raise FuncError("slice of untyped nil")
    if len(indexes) > 3:
        raise FuncError(f"too many slice indexes: {len(indexes)}")
    data: bytes | list[Any] | tuple[Any, ...]
    if isinstance(item, str):
        if len(indexes) == 3:
            raise FuncError("cannot 3-index slice a string")
        data = item.encode()
        cap = len(data)
    elif isinstance(item, list | tuple):
        data = item
        cap = len(item)
    else:
        raise FuncError(f"can't slice item of type {go_type(item)}")
    idx = [0, len(data)]
    for k, i in enumerate(indexes):
        if isinstance(i, bool) or not isinstance(i, int):
            raise FuncError(f"cannot index slice/array with type {go_type(i)}")
        if i < 0 or i > cap:
            raise FuncError(f"index out of range: {i}")
        if k < 2:
            idx[k] = i
    if idx[0] > idx[1]:
        raise FuncError(f"invalid slice index: {idx[0]} > {idx[1]}")
    if len(indexes) == 3 and indexes[1] > indexes[2]:
        raise FuncError(f"invalid slice index: {indexes[1]} > {indexes[2]}")
    out = data[idx[0] : idx[1]]
    return out.decode(errors="replace") if isinstance(out, bytes) else list(out)


_BOOL, _INT, _FLOAT, _STRING = "bool", "int", "float", "string"


def _kind(v: Any) -> str | None:
    if isinstance(v, bool):
        return _BOOL
    if isinstance(v, int):
        return _INT
    if isinstance(v, float):
        return _FLOAT
    if isinstance(v, str):
        return _STRING
    return None


def _eq(arg1: Any, *args: Any) -> bool:
    if not args:
        raise FuncError("missing argument for comparison")
    k1 = _kind(arg1)
    for arg in args:
        k2 = _kind(arg)
        if k1 != k2:
            if arg1 is not None and arg is not None:
                raise FuncError("incompatible types for comparison")
            continue
        if k1 is None:
            if arg1 is None or arg is None:
                if arg1 is None and arg is None:
                    return True
                continue
            raise FuncError(f"non-comparable type {gofmt.format_value(arg1)}: {go_type(arg1)}")
        if arg1 == arg:
            return True
    return False


def _ne(a: Any, b: Any) -> bool:
    return not _eq(a, b)


def _lt(a: Any, b: Any) -> bool:
    k1, k2 = _kind(a), _kind(b)
    if k1 is None or k1 == _BOOL or k2 is None or k2 == _BOOL:
        raise FuncError("invalid type for comparison")
    if k1 != k2:
        raise FuncError("incompatible types for comparison")
    return bool(a < b)


def _le(a: Any, b: Any) -> bool:
    return _lt(a, b) or _eq(a, b)


def _gt(a: Any, b: Any) -> bool:
    return not _le(a, b)


def _ge(a: Any, b: Any) -> bool:
    return not _lt(a, b)


def _printf(fmt: Any, *args: Any) -> str:
    return gofmt.sprintf(_want_str(fmt), *args)


_HTML = {"&": "&amp;", "'": "&#39;", "<": "&lt;", ">": "&gt;", '"': "&#34;", "\0": "\ufffd"}


def _html(*args: Any) -> str:
    s = args[0] if len(args) == 1 and isinstance(args[0], str) else gofmt.sprint(*args)
    return "".join(_HTML.get(c, c) for c in s)


def _urlquery(*args: Any) -> str:
    s = args[0] if len(args) == 1 and isinstance(args[0], str) else gofmt.sprint(*args)
    out = []
    for b in s.encode():
        c = chr(b)
        if c.isascii() and (c.isalnum() or c in "-_.~"):
            out.append(c)
        elif c == " ":
            out.append("+")
        else:
            out.append(f"%{b:02X}")
    return "".join(out)


_JS = {"\\": "\\\\", "'": "\\'", '"': "\\\"", "<": "\\u003C", ">": "\\u003E", "&": "\\u0026",
       "=": "\\u003D", "\n": "\\n", "\r": "\\r", "\t": "\\t"}  # fmt: skip


def _js(*args: Any) -> str:
    s = args[0] if len(args) == 1 and isinstance(args[0], str) else gofmt.sprint(*args)
    return "".join(_JS.get(c, f"\\u{ord(c):04X}" if ord(c) < 0x20 else c) for c in s)


def _call(fn: Any, *args: Any) -> Any:
    if fn is None:
        raise FuncError("call of nil")
    if not callable(fn):
        raise FuncError(f"non-function of type {go_type(fn)}")
    return fn(*args)


# ---- docker's functions (docker/cli templates package)


def to_json(v: Any) -> str:
    """JSON as Go's encoding/json writes it with HTML escaping off (docker's ``json`` function)."""
    out: list[str] = []
    _json_into(v, out)
    return "".join(out)


def _json_str(s: str) -> str:
    parts = ['"']
    for c in s:
        if c == '"' or c == "\\":
            parts.append("\\" + c)
        elif c == "\n":
            parts.append("\\n")
        elif c == "\r":
            parts.append("\\r")
        elif c == "\t":
            parts.append("\\t")
        elif ord(c) < 0x20 or c in "\u2028\u2029":
            parts.append(f"\\u{ord(c):04x}")
        else:
            parts.append(c)
    parts.append('"')
    return "".join(parts)


def _json_float(v: float) -> str:
    if v != v or v in (float("inf"), float("-inf")):
        raise FuncError(f"json: unsupported value: {gofmt.format_value(v)}")
    a = abs(v)
    if a != 0 and (a < 1e-6 or a >= 1e21):
        out = gofmt.format_float(v, "e", None)
        mant, _, exp = out.partition("e")
        sign, digits = exp[0], exp[1:].lstrip("0") or "0"
        return f"{mant}e{sign}{digits}"
    return gofmt.format_float(v, "f", None)


def _json_into(v: Any, out: list[str]) -> None:
    if v is None or v is NO_VALUE:
        out.append("null")
    elif v is True:
        out.append("true")
    elif v is False:
        out.append("false")
    elif isinstance(v, int):
        out.append(str(v))
    elif isinstance(v, float):
        out.append(_json_float(v))
    elif isinstance(v, str):
        out.append(_json_str(v))
    elif isinstance(v, dict):
        items = v.items() if isinstance(v, Struct) else sorted(v.items(), key=lambda kv: str(kv[0]))
        out.append("{")
        for i, (k, val) in enumerate(items):
            if i:
                out.append(",")
            out.append(_json_str(str(k)))
            out.append(":")
            _json_into(val, out)
        out.append("}")
    elif isinstance(v, list | tuple):
        out.append("[")
        for i, val in enumerate(v):
            if i:
                out.append(",")
            _json_into(val, out)
        out.append("]")
    elif isinstance(v, bytes):
        import base64

        out.append('"' + base64.b64encode(v).decode() + '"')
    else:
        as_json = getattr(v, "to_json", None)
        if callable(as_json):
            _json_into(as_json(), out)
        else:
            _json_into(gofmt.format_value(v), out)


def _split(s: Any, sep: Any) -> list[str]:
    text, by = _want_str(s), _want_str(sep, 1)
    if by == "":
        return list(text)
    return text.split(by)


def _join(items: Any, sep: Any) -> str:
    by = _want_str(sep, 1)
    if not isinstance(items, list | tuple) or not all(isinstance(i, str) for i in items):
        raise ArgTypeError(f"wrong type for value; expected []string; got {go_type(items)}")
    return by.join(items)


def _title(s: Any) -> str:
    out = []
    boundary = True
    for c in _want_str(s):
        out.append(c.upper() if boundary else c)
        boundary = not (c.isalnum() or c == "_" or c == "'")
    return "".join(out)


def _lower(s: Any) -> str:
    return _want_str(s).lower()


def _upper(s: Any) -> str:
    return _want_str(s).upper()


def _pad(s: Any, prefix: Any, suffix: Any) -> str:
    text, before, after = _want_str(s), _want_int(prefix, 1), _want_int(suffix, 2)
    if not text:
        return text
    return " " * before + text + " " * after


def _truncate(s: Any, length: Any) -> str:
    text, size = _want_str(s), _want_int(length, 1)
    if len(text) < size:
        return text
    return text[: max(size, 0)]


# name -> (function, fixed number of arguments, variadic)
BUILTINS: dict[str, tuple[Callable[..., Any], int, bool]] = {
    "and": (truth, 1, True),  # evaluated by the executor (short-circuit)
    "or": (truth, 1, True),
    "not": (_not, 1, False),
    "len": (_len, 1, False),
    "index": (_index, 1, True),
    "slice": (_slice, 1, True),
    "print": (gofmt.sprint, 0, True),
    "println": (gofmt.sprintln, 0, True),
    "printf": (_printf, 1, True),
    "eq": (_eq, 1, True),
    "ne": (_ne, 2, False),
    "lt": (_lt, 2, False),
    "le": (_le, 2, False),
    "gt": (_gt, 2, False),
    "ge": (_ge, 2, False),
    "html": (_html, 0, True),
    "js": (_js, 0, True),
    "urlquery": (_urlquery, 0, True),
    "call": (_call, 1, True),
}

DOCKER: dict[str, tuple[Callable[..., Any], int, bool]] = {
    "json": (to_json, 1, False),
    "split": (_split, 2, False),
    "join": (_join, 2, False),
    "title": (_title, 1, False),
    "lower": (_lower, 1, False),
    "upper": (_upper, 1, False),
    "pad": (_pad, 3, False),
    "truncate": (_truncate, 2, False),
}


def _first(v: Any, *_: Any) -> Any:
    return v


# docker renders a table's header row with these: every function returns its first argument
HEADER: dict[str, tuple[Callable[..., Any], int, bool]] = {
    name: (_first, nargs, variadic) for name, (_, nargs, variadic) in DOCKER.items()
}


def arity(fn: Callable[..., Any]) -> tuple[int, bool]:
    """(fixed number of arguments, variadic) of a plain Python function given by a caller."""
    code = getattr(fn, "__code__", None)
    if code is None:
        return 0, True
    fixed = code.co_argcount - len(getattr(fn, "__defaults__", None) or ())
    if getattr(fn, "__self__", None) is not None:
        fixed -= 1
    return fixed, bool(code.co_flags & 0x04)
