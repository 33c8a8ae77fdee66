"""Docker's human units (the go-units package): sizes, byte counts, durations, and their parsing.

- :func:`human_size`: decimal units, 4 significant digits (``2.5MB``, ``1kB``): image sizes.
- :func:`bytes_size`: binary units (``1.5MiB``): ``stats`` memory.
- :func:`human_duration`: ``Less than a second``, ``About a minute``, ``5 minutes``, ``2 weeks``.
- :func:`ram_in_bytes` (binary: ``-m 512m``) and :func:`from_human_size` (decimal) parse sizes,
  raising :class:`~pallet.errors.ConfigError` naming the value and the flag it came from.
"""

from __future__ import annotations

from pallet.errors import ConfigError

DECIMAL_ABBRS = ("B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB")
BINARY_ABBRS = ("B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB", "ZiB", "YiB")

_SUFFIXES = "kmgtp"
_ALLOWED = "a number with an optional unit b, k, m, g, t or p (kb/kib, mb/mib, ...), e.g. 512m or 1.5g"


def _size_and_unit(size: float, base: float, abbrs: tuple[str, ...]) -> tuple[float, str]:
    i = 0
    while size >= base and i < len(abbrs) - 1:
        size /= base
        i += 1
    return size, abbrs[i]


def _g(value: float, precision: int) -> str:
    """Go's %.{precision}g (the same as Python's for finite numbers)."""
    if value != value:
        return "NaN"
    if value in (float("inf"), float("-inf")):
        return "+Inf" if value > 0 else "-Inf"
    return f"{value:.{precision}g}"


def human_size_with_precision(size: float, precision: int) -> str:
    """go-units HumanSizeWithPrecision: decimal units (1000), ``precision`` significant digits."""
    value, unit = _size_and_unit(float(size), 1000.0, DECIMAL_ABBRS)
    return _g(value, precision) + unit


def human_size(size: float) -> str:
    """go-units HumanSize: ``2.5MB``, ``999B``, ``1.235GB`` (4 significant digits)."""
    return human_size_with_precision(size, 4)


def bytes_size(size: float) -> str:
    """go-units BytesSize: binary units (1024) with 4 significant digits: ``1.5MiB``."""
    value, unit = _size_and_unit(float(size), 1024.0, BINARY_ABBRS)
    return _g(value, 4) + unit


def human_duration(seconds: float) -> str:
    """go-units HumanDuration of a duration in seconds (docker's ``Up 5 minutes``, ``2 hours ago``)."""
    secs = int(seconds)
    if secs < 1:
        return "Less than a second"
    if secs == 1:
        return "1 second"
    if secs < 60:
        return f"{secs} seconds"
    minutes = int(seconds / 60)
    if minutes == 1:
        return "About a minute"
    if minutes < 60:
        return f"{minutes} minutes"
    hours = int(seconds / 3600 + 0.5)
    if hours == 1:
        return "About an hour"
    if hours < 48:
        return f"{hours} hours"
    if hours < 24 * 7 * 2:
        return f"{hours // 24} days"
    if hours < 24 * 30 * 2:
        return f"{hours // 24 // 7} weeks"
    if hours < 24 * 365 * 2:
        return f"{hours // 24 // 30} months"
    return f"{int(seconds / 3600) // 24 // 365} years"


def _fail(value: str, flag: str, reason: str) -> ConfigError:
    where = f' for "{flag}" flag' if flag else ""
    return ConfigError(f'invalid argument "{value}"{where}: {reason} (expected {_ALLOWED})')


def _parse_size(value: str, base: int, flag: str) -> int:
    """go-units parseSize: a number, an optional space, an optional unit; case-insensitive."""
    sep = max(value.rfind(c) for c in "0123456789. ")
    if sep < 0:
        raise _fail(value, flag, f"invalid size: '{value}'")
    if value[sep] == " ":
        num, sfx = value[:sep], value[sep + 1 :]
    else:
        num, sfx = value[: sep + 1], value[sep + 1 :]
    try:
        size = float(num) if num.strip(" ") == num and "_" not in num else float("x")
    except ValueError:
        raise _fail(value, flag, f"invalid size: '{value}'") from None
    if size != size or size in (float("inf"), float("-inf")):
        raise _fail(value, flag, f"invalid size: '{value}'")
    if size < 0:
        raise _fail(value, flag, f"invalid size: '{value}'")
    if not sfx:
        return int(size)
    low = sfx.lower()
    bad = _fail(value, flag, f"invalid suffix: '{low}'")
    if len(low) > 3:
        raise _fail(value, flag, f"invalid suffix: '{sfx}'")
    if low[0] == "b":
        if len(low) > 1:
            raise bad
        return int(size)
    power = _SUFFIXES.find(low[0])
    if power < 0:
        raise bad
    if (len(low) == 2 and low[1] != "b") or (len(low) == 3 and low[1:] != "ib"):
        raise bad
    return int(size * float(base) ** (power + 1))


def ram_in_bytes(value: str, flag: str = "") -> int:
    """go-units RAMInBytes: binary units (``512m`` = 512 MiB, ``1.5GB`` = 1.5 GiB), as ``-m`` reads them."""
    return _parse_size(value, 1024, flag)


def from_human_size(value: str, flag: str = "") -> int:
    """go-units FromHumanSize: decimal units (``1.5GB`` = 1 500 000 000)."""
    return _parse_size(value, 1000, flag)
