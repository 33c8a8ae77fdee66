"""How Python values stand for Go values in templates.

None is nil, bool/int/float/str are bool/int/float64/string, lists and tuples are
``[]interface {}``, dicts are ``map[string]interface {}`` (printed ``map[k:v]``, sorted keys, and a
missing key is ``<no value>``), and a :class:`Struct` is a Go struct (printed ``{v1 v2}``, and a
missing field is an execution error).  Any other object is a struct whose fields are its
attributes; a callable attribute is a method (``{{.Label "x"}}``).
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing costs ~4 ms to import; mypy still reads the blocks below
if TYPE_CHECKING:
    from typing import Any

    _DictBase = dict[str, Any]
else:
    _DictBase = dict


class Struct(_DictBase):
    """A dict that templates treat as a Go struct named ``type_name`` (fields in insertion order)."""

    type_name = "struct"

    def __init__(self, fields: Any = (), type_name: str | None = None, **kw: Any) -> None:
        super().__init__(fields, **kw)
        if type_name is not None:
            self.type_name = type_name


class _NoValue:
    """Go's invalid reflect.Value: what a missing map key evaluates to."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "<no value>"

    def __bool__(self) -> bool:
        return False


NO_VALUE: Any = _NoValue()


def go_type(v: Any) -> str:
    """The Go type name of a value, as %T and fmt's error forms print it."""
    if v is None or v is NO_VALUE:
        return "<nil>"
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, int):
        return "int"
    if isinstance(v, float):
        return "float64"
    if isinstance(v, str):
        return "string"
    if isinstance(v, Struct):
        return v.type_name
    if isinstance(v, dict):
        return "map[string]interface {}"
    if isinstance(v, list | tuple):
        return "[]interface {}"
    if isinstance(v, bytes):
        return "[]uint8"
    name = getattr(v, "go_type_name", None)
    return name if isinstance(name, str) else type(v).__name__


def truth(v: Any) -> bool:
    """Go template truth: false, 0, "", nil and empty collections are false; structs are true."""
    if v is None or v is NO_VALUE:
        return False
    if isinstance(v, Struct):
        return True
    if isinstance(v, bool | int | float | str | bytes | list | tuple | dict):
        return bool(v)
    return True


def is_struct(v: Any) -> bool:
    """True for values with struct semantics (missing fields are errors)."""
    if isinstance(v, Struct):
        return True
    return not isinstance(v, bool | int | float | str | bytes | list | tuple | dict) and v is not None
