"""Small typed readers for JSON values: each returns the value or raises a ValidationError naming it.

Every reader takes the value and its JSON path (``process.user.uid``), so that an error always says
which field, which value and what is allowed.  A JSON ``null`` is treated as absent, as the Go
runtimes do.  Standard library only; no ``typing`` at run time.
"""

from __future__ import annotations

from pallet.errors import ValidationError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import TypeVar

    T = TypeVar("T")

INT64_MIN = -(1 << 63)
INT64_MAX = (1 << 63) - 1
UINT16_MAX = (1 << 16) - 1
UINT32_MAX = (1 << 32) - 1
UINT64_MAX = (1 << 64) - 1

_SHOW_MAX = 80


def show(value: object) -> str:
    """``value`` as JSON (a Python value the JSON encoder cannot take as its repr), shortened."""
    if isinstance(value, str):  # the common case (a map key in a path): without the json package (re)
        import _json

        text: str = _json.encode_basestring(value)
        return text if len(text) <= _SHOW_MAX else text[: _SHOW_MAX - 3] + "..."
    import json

    try:
        text = json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= _SHOW_MAX else text[: _SHOW_MAX - 3] + "..."


def _kind(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def wrong_type(path: str, wanted: str, value: object) -> ValidationError:
    return ValidationError(path, f"must be {wanted}, got {show(value)} ({_kind(value)})")


def key(path: str, name: str) -> str:
    """The path of a member: ``linux`` + ``sysctl`` -> ``linux.sysctl``."""
    return f"{path}.{name}" if path else name


def item(path: str, name: str) -> str:
    """The path of a map entry whose name may hold dots: ``linux.sysctl["net.ipv4.ip_forward"]``."""
    return f"{path}[{show(name)}]"


def obj(value: object, path: str) -> dict[str, object]:
    if not isinstance(value, dict):
        raise wrong_type(path, "an object", value)
    return value


def array(value: object, path: str) -> list[object]:
    if not isinstance(value, list):
        raise wrong_type(path, "an array", value)
    return value


def string(value: object, path: str, *, nonempty: bool = False) -> str:
    if not isinstance(value, str):
        raise wrong_type(path, "a string", value)
    if nonempty and not value:
        raise ValidationError(path, "must not be empty")
    if "\0" in value:
        raise ValidationError(path, f"{show(value)} must not contain a NUL character")
    return value


def boolean(value: object, path: str) -> bool:
    if not isinstance(value, bool):
        raise wrong_type(path, "a boolean (true or false)", value)
    return value


def integer(value: object, path: str, lo: int = INT64_MIN, hi: int = INT64_MAX) -> int:
    """An integer within [lo, hi] (booleans and floats are not integers)."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationError(path, f"must be an integer, got {show(value)}")
    if value < lo:
        if lo == 0:
            raise ValidationError(path, f"must not be negative, got {value}")
        raise ValidationError(path, f"must be at least {lo}, got {value}")
    if value > hi:
        raise ValidationError(path, f"must be at most {hi}, got {value}")
    return value


def uint32(value: object, path: str) -> int:
    return integer(value, path, 0, UINT32_MAX)


def uint64(value: object, path: str) -> int:
    return integer(value, path, 0, UINT64_MAX)


def strings(value: object, path: str, *, nonempty_items: bool = False) -> list[str]:
    items = array(value, path)
    for i, entry in enumerate(items):
        string(entry, f"{path}[{i}]", nonempty=nonempty_items)
    return items  # type: ignore[return-value]


def abspath(value: object, path: str) -> str:
    text = string(value, path, nonempty=True)
    if not text.startswith("/"):
        raise ValidationError(path, f"{show(text)} must be an absolute path")
    return text


def one_of(value: object, path: str, allowed: tuple[str, ...] | frozenset[str], what: str) -> str:
    text = string(value, path)
    if text not in allowed:
        raise ValidationError(path, f"{show(text)} is not {what} (allowed: {', '.join(sorted(allowed))})")
    return text


def required(doc: dict[str, object], name: str, path: str) -> object:
    value = doc.get(name)
    if value is None:
        raise ValidationError(key(path, name), "is required")
    return value


def optional(doc: dict[str, object], name: str, path: str, read: Callable[[object, str], T]) -> T | None:
    """Read ``doc[name]`` with ``read`` when present and not null; None otherwise."""
    value = doc.get(name)
    if value is None:
        return None
    return read(value, key(path, name))


def cpu_list(value: object, path: str) -> str:
    """A cpuset list such as ``0-3,7`` (empty means: not set)."""
    text = string(value, path)
    if not text:
        return text
    for part in text.split(","):
        low, _, high = part.partition("-")
        if not low.isdigit() or (high and not high.isdigit()) or (high and int(high) < int(low)) or (
            part.endswith("-")
        ):
            raise ValidationError(path, f"{show(text)} is not a CPU list (like 0-3,7)")
    return text
