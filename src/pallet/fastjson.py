"""JSON without importing the json package (which imports ``re``: ~6 ms of every command's start).

The C accelerator ``_json`` that the json package wraps is used directly: its scanner parses and
its encoder writes compact JSON.  Errors still come out as json.JSONDecodeError (on an error the json package is loaded to
produce it), so callers can report line and column.
Use this on the container start path; elsewhere the json package is fine.
"""

from __future__ import annotations

import _json

_WS = " \t\n\r"


def _constant(name: str) -> float:
    return {"NaN": float("nan"), "Infinity": float("inf"), "-Infinity": float("-inf")}[name]


class _Context:
    strict = True
    object_hook = None
    object_pairs_hook = None
    parse_float = float
    parse_int = int
    parse_constant = staticmethod(_constant)
    memo: dict[str, str] = {}


_scan = _json.make_scanner(_Context())  # type: ignore[arg-type]
_encode = _json.make_encoder(None, None,  # type: ignore[arg-type]
                              _json.encode_basestring_ascii, None, ":", ",", False, False, True)


def _fail(msg: str, doc: str, pos: int) -> Exception:
    from json import JSONDecodeError

    return JSONDecodeError(msg, doc, pos)


def loads(data: str | bytes) -> object:
    """Parse one JSON document."""
    if isinstance(data, bytes | bytearray):
        # "utf-8" and the BOM stripped here: the "utf-8-sig" codec is a module to import (~0.2 ms)
        doc = data.decode()
        if doc.startswith("\ufeff"):
            doc = doc[1:]
    else:
        doc = data
    n = len(doc)
    i = 0
    while i < n and doc[i] in _WS:
        i += 1
    try:
        obj, end = _scan(doc, i)
    except StopIteration as err:
        raise _fail("Expecting value", doc, err.value) from None
    except SystemError:
        # The C scanner reports errors through json.decoder only when that module is loaded: let
        # the json package parse the document again to raise the error with its line and column.
        import json

        json.loads(doc)
        raise
    while end < n and doc[end] in _WS:
        end += 1
    if end != n:
        raise _fail("Extra data", doc, end)
    return obj


_encode_sorted = _json.make_encoder(None, None,  # type: ignore[arg-type]
                                     _json.encode_basestring_ascii, None, ":", ",", True, False, True)


def dumps(obj: object, *, indent: int | None = None, sort_keys: bool = False) -> str:
    """Compact JSON (no spaces), ASCII-escaped; with ``indent``, the text json.dumps(obj,
    indent=indent, sort_keys=sort_keys) gives (objects with string keys only)."""
    if indent is None:
        return "".join((_encode_sorted if sort_keys else _encode)(obj, 0))
    return _pretty(obj, "\n", " " * indent, sort_keys)


def _pretty(obj: object, newline: str, step: str, sort_keys: bool) -> str:
    inner = newline + step
    if isinstance(obj, dict) and obj:
        items = sorted(obj.items()) if sort_keys else obj.items()
        parts = []
        for key, value in items:
            if not isinstance(key, str):
                import json  # keys json converts (numbers, None, booleans): its own rules

                return json.dumps(obj, indent=len(step), sort_keys=sort_keys).replace("\n", newline)
            parts.append(inner + _json.encode_basestring_ascii(key) + ": " + _pretty(value, inner, step, sort_keys))
        return "{" + ",".join(parts) + newline + "}"
    if isinstance(obj, (list, tuple)) and obj:
        return "[" + ",".join(inner + _pretty(v, inner, step, sort_keys) for v in obj) + newline + "]"
    return "".join(_encode(obj, 0))


def load_file(path: str) -> object:
    with open(path, "rb") as f:
        return loads(f.read())
