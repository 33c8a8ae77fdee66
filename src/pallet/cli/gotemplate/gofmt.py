"""Go's fmt package for template values: Sprint, Sprintln, Sprintf and %v of any value.

Follows Go's fmt/print.go and fmt/format.go: flags ``+ - # 0 space``, width and precision (also
``*``), argument indexes ``%[2]d``, the verbs ``v T t d b o O x X c q U e E f F g G s``, and the
error forms ``%!d(string=hi)``, ``%!d(MISSING)``, ``%!(EXTRA int=1)``, ``%!(NOVERB)``.
"""

from __future__ import annotations

from .values import NO_VALUE, Struct, go_type

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


class _Spec:
    """The flags, width and precision of one verb."""

    __slots__ = ("minus", "plus", "plus_v", "prec", "sharp", "sharp_v", "space", "wid", "zero")

    def __init__(self) -> None:
        self.plus = self.minus = self.sharp = self.space = self.zero = False
        self.plus_v = self.sharp_v = False  # %+v (field names) and %#v (Go syntax)
        self.wid: int | None = None
        self.prec: int | None = None


_PLAIN = _Spec()


def _pad(s: str, f: _Spec) -> str:
    if f.wid is None or len(s) >= f.wid:
        return s
    fill = f.wid - len(s)
    if f.minus:
        return s + " " * fill
    return ("0" if f.zero else " ") * fill + s


# ---- strings and quoting


def quote(s: str, ascii_only: bool = False) -> str:
    """Go's strconv.Quote (or QuoteToASCII)."""
    return '"' + _escape(s, '"', ascii_only) + '"'


def quote_rune(c: str, ascii_only: bool = False) -> str:
    return "'" + _escape(c, "'", ascii_only) + "'"


_ESC = {"\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\v": "\\v"}


def _escape(s: str, q: str, ascii_only: bool) -> str:
    out: list[str] = []
    for c in s:
        if c == q or c == "\\":
            out.append("\\" + c)
        elif c.isprintable() and not (ascii_only and ord(c) >= 0x80):
            out.append(c)
        elif c in _ESC:
            out.append(_ESC[c])
        elif ord(c) < 0x80 or (0xD800 <= ord(c) < 0xE000):
            out.append(f"\\x{ord(c) & 0xFF:02x}")
        elif ord(c) < 0x10000:
            out.append(f"\\u{ord(c):04x}")
        else:
            out.append(f"\\U{ord(c):08x}")
    return "".join(out)


def _can_backquote(s: str) -> bool:
    return all(c != "`" and c != "\ufeff" and (c == "\t" or c.isprintable()) for c in s)


def _fmt_string(s: str, verb: str, f: _Spec) -> str:
    if f.prec is not None and verb in "sqvxX":
        s = s[: f.prec]
    if verb == "v" and f.sharp_v:
        return _pad(quote(s), f)
    if verb in "sv":
        return _pad(s, f)
    if verb == "q":
        if f.sharp and _can_backquote(s):
            return _pad("`" + s + "`", f)
        return _pad(quote(s, f.plus), f)
    # x / X: hex of the UTF-8 bytes
    data = s.encode()
    digits = "0123456789abcdef" if verb == "x" else "0123456789ABCDEF"
    prefix = ("0x" if verb == "x" else "0X") if f.sharp else ""
    parts = []
    for i, b in enumerate(data):
        item = digits[b >> 4] + digits[b & 15]
        if f.space:
            parts.append(("" if i == 0 else " ") + prefix + item)
        else:
            parts.append(item)
    out = "".join(parts)
    if not f.space:
        out = prefix + out if data else out
    return _pad(out, f)


# ---- numbers


def _fmt_int(v: int, verb: str, f: _Spec) -> str:
    if verb == "c":
        return _pad(chr(v) if 0 <= v <= 0x10FFFF else "\ufffd", f)
    if verb == "q":
        return _pad(quote_rune(chr(v) if 0 <= v <= 0x10FFFF else "\ufffd", f.plus), f)
    if verb == "U":
        out = f"U+{v:04X}" if v >= 0 else f"U+{v & 0xFFFFFFFFFFFFFFFF:04X}"
        if f.sharp and 0 <= v <= 0x10FFFF and chr(v).isprintable():
            out += " " + quote_rune(chr(v))
        return _pad(out, f)
    base = {"d": 10, "v": 10, "b": 2, "o": 8, "O": 8, "x": 16, "X": 16}[verb]
    neg = v < 0
    u = -v if neg else v
    if f.prec is not None:
        if f.prec == 0 and u == 0:
            return _pad("", _no_zero(f))
        prec = f.prec
    elif f.zero and not f.minus and f.wid is not None:
        prec = f.wid - (1 if neg or f.plus or f.space else 0)
    else:
        prec = 0
    if base == 10:
        digits = str(u)
    elif base == 16:
        digits = format(u, "x" if verb == "x" else "X")
    elif base == 8:
        digits = format(u, "o")
    else:
        digits = format(u, "b")
    digits = digits.rjust(prec, "0")
    if f.sharp:
        if base == 2:
            digits = "0b" + digits
        elif base == 8 and verb == "o" and not digits.startswith("0"):
            digits = "0" + digits
        elif base == 16:
            digits = ("0x" if verb == "x" else "0X") + digits
    if verb == "O":
        digits = "0o" + digits
    sign = "-" if neg else "+" if f.plus else " " if f.space else ""
    return _pad(sign + digits, _no_zero(f))


def _no_zero(f: _Spec) -> _Spec:
    if not f.zero:
        return f
    g = _Spec()
    g.minus, g.wid = f.minus, f.wid
    return g


def _shortest_digits(v: float) -> tuple[str, int]:
    """Shortest decimal digits of abs(v) and the position of the decimal point (Go's digs.dp)."""
    r = repr(abs(v))
    mant, _, exp = r.partition("e")
    whole, _, frac = mant.partition(".")
    if frac == "0":
        frac = ""
    digits = (whole + frac).lstrip("0")
    dp = len(whole) + (int(exp) if exp else 0)
    if not digits:
        return "0", 1
    lead = len(whole + frac) - len((whole + frac).lstrip("0"))
    dp -= lead
    return digits.rstrip("0") or "0", dp


def format_float(v: float, verb: str, prec: int | None) -> str:
    """Go's strconv.FormatFloat for verbs e E f F g G with a precision (None: shortest)."""
    if v != v:
        return "NaN"
    if v in (float("inf"), float("-inf")):
        return "+Inf" if v > 0 else "-Inf"
    lower = verb.lower()
    if prec is not None:
        if lower == "f":
            return f"{v:.{prec}f}"
        out = f"{v:.{prec}{lower}}"
        return out.upper() if verb in "EG" else out
    digits, dp = _shortest_digits(v)
    sign = "-" if v < 0 or (v == 0 and str(v).startswith("-")) else ""
    nd = len(digits)
    if lower == "g":
        exp = dp - 1
        use_e = exp < -4 or exp >= 6  # shortest %g: Go decides with precision 6
        if digits == "0":
            use_e = False
            dp = 1
        if not use_e:
            lower = "f"
            decimals = max(nd - dp, 0)
        else:
            lower = "e"
            decimals = nd - 1
    elif lower == "e":
        decimals = nd - 1
    else:
        decimals = max(nd - dp, 0)
    if lower == "e":
        mant = digits[0] + ("." + digits[1:] if decimals else "")
        exp = dp - 1 if digits != "0" else 0
        out = f"{sign}{mant}e{'-' if exp < 0 else '+'}{abs(exp):02d}"
        return out.upper() if verb in "EG" else out
    if dp <= 0:
        body = "0." + "0" * (-dp) + digits
    elif dp >= nd:
        body = digits + "0" * (dp - nd)
    else:
        body = digits[:dp] + "." + digits[dp:]
    return sign + body


def _fmt_float(v: float, verb: str, f: _Spec) -> str:
    if verb == "v":
        num = format_float(v, "g", f.prec)
    elif verb in "eEfF":
        num = format_float(v, verb, 6 if f.prec is None else f.prec)
    else:
        num = format_float(v, verb, f.prec)
    if f.sharp and verb in "vgG" and "." not in num and "e" not in num.lower() and num[-1:].isdigit():
        num += "."
    if num[0] not in "+-":
        num = "+" + num
    if f.space and num[0] == "+" and not f.plus:
        num = " " + num[1:]
    if num[1:] in ("Inf", "NaN"):
        if num[1:] == "NaN" and not f.space and not f.plus:
            num = num[1:]
        return _pad(num, _no_zero(f))
    if f.plus or num[0] != "+":
        if f.zero and not f.minus and f.wid is not None and f.wid > len(num):
            return num[0] + "0" * (f.wid - len(num)) + num[1:]
        return _pad(num, f)
    return _pad(num[1:], f)


# ---- any value


def _bad_verb(arg: Any, verb: str, f: _Spec) -> str:
    if arg is None or arg is NO_VALUE:
        return f"%!{verb}(<nil>)"
    return f"%!{verb}({go_type(arg)}={_fmt(arg, 'v', f, 0)})"


def _fmt(arg: Any, verb: str, f: _Spec, depth: int) -> str:
    if verb == "T":
        return _pad(go_type(arg), f)
    if arg is None or arg is NO_VALUE:
        if depth > 0:
            return "<nil>"
        return _pad("<nil>", f) if verb == "v" else _bad_verb(arg, verb, f)
    if isinstance(arg, bool):
        if verb in "tv":
            return _pad("true" if arg else "false", f)
        return _bad_verb(arg, verb, f)
    if isinstance(arg, int):
        if verb in "bcdoOqxXUv":
            return _fmt_int(arg, verb, f)
        return _bad_verb(arg, verb, f)
    if isinstance(arg, float):
        if verb in "veEfFgG":
            return _fmt_float(arg, verb, f)
        return _bad_verb(arg, verb, f)
    if isinstance(arg, str):
        if verb in "svqxX":
            return _fmt_string(arg, verb, f)
        return _bad_verb(arg, verb, f)
    if isinstance(arg, Struct):
        if f.sharp_v:
            body = ", ".join(f"{k}:{_fmt(v, 'v', f, depth + 1)}" for k, v in arg.items())
            return f"{arg.type_name.lstrip('*')}{{{body}}}"
        if f.plus_v:
            return "{" + " ".join(f"{k}:{_fmt(v, verb, f, depth + 1)}" for k, v in arg.items()) + "}"
        return "{" + " ".join(_fmt(v, verb, f, depth + 1) for v in arg.values()) + "}"
    if isinstance(arg, dict):
        items = sorted(arg.items(), key=_sort_key)
        if f.sharp_v:
            body = ", ".join(f"{_fmt(k, 'v', f, depth + 1)}:{_fmt(v, 'v', f, depth + 1)}" for k, v in items)
            return "map[string]interface {}{" + body + "}"
        return (
            "map["
            + " ".join(f"{_fmt(k, verb, f, depth + 1)}:{_fmt(v, verb, f, depth + 1)}" for k, v in items)
            + "]"
        )
    if isinstance(arg, list | tuple):
        if f.sharp_v:
            return "[]interface {}{" + ", ".join(_fmt(v, "v", f, depth + 1) for v in arg) + "}"
        return "[" + " ".join(_fmt(v, verb, f, depth + 1) for v in arg) + "]"
    if isinstance(arg, bytes):
        if verb in "sqxX":
            return _fmt_string(arg.decode(errors="replace"), verb, f)
        return "[" + " ".join(_fmt_int(b, "d" if verb == "v" else verb, f) for b in arg) + "]"
    # any other object: a Stringer
    if verb in "svqxX":
        return _fmt_string(str(arg), verb, f)
    return _bad_verb(str(arg), verb, f)


def _sort_key(item: tuple[Any, Any]) -> tuple[int, Any]:
    k = item[0]
    if isinstance(k, bool):
        return (0, k)
    if isinstance(k, int | float):
        return (1, k)
    return (2, str(k))


def format_value(v: Any) -> str:
    """``%v`` of one value, as a template action prints it."""
    if isinstance(v, str):
        return v
    return _fmt(v, "v", _PLAIN, 0)


def sprint(*args: Any) -> str:
    """Go's fmt.Sprint: a space between operands when neither side is a string."""
    out: list[str] = []
    for i, a in enumerate(args):
        if i > 0 and not isinstance(a, str) and not isinstance(args[i - 1], str):
            out.append(" ")
        out.append(format_value(a))
    return "".join(out)


def sprintln(*args: Any) -> str:
    return " ".join(format_value(a) for a in args) + "\n"


def sprintf(fmt: str, *args: Any) -> str:
    """Go's fmt.Sprintf."""
    out: list[str] = []
    argnum = 0
    reordered = False
    i = 0
    end = len(fmt)
    while i < end:
        j = fmt.find("%", i)
        if j < 0:
            out.append(fmt[i:])
            break
        out.append(fmt[i:j])
        i = j + 1
        f = _Spec()
        while i < end and fmt[i] in "+-# 0":
            c = fmt[i]
            if c == "+":
                f.plus = True
            elif c == "-":
                f.minus = True
                f.zero = False
            elif c == "#":
                f.sharp = True
            elif c == " ":
                f.space = True
            elif not f.minus:
                f.zero = True
            i += 1
        good = True
        # argument index, width
        argnum, i, good, reordered = _arg_index(fmt, i, argnum, len(args), good, reordered)
        if i < end and fmt[i] == "*":
            i += 1
            if argnum < len(args) and isinstance(args[argnum], int) and not isinstance(args[argnum], bool):
                f.wid = args[argnum]
                if f.wid < 0:
                    f.minus, f.zero, f.wid = True, False, -f.wid
            else:
                out.append("%!(BADWIDTH)")
            argnum += 1
            reordered = False
        else:
            start = i
            while i < end and fmt[i].isdigit():
                i += 1
            if i > start:
                f.wid = int(fmt[start:i])
                if reordered:
                    good = False
        if i < end and fmt[i] == ".":
            i += 1
            argnum, i, good, reordered = _arg_index(fmt, i, argnum, len(args), good, reordered)
            if i < end and fmt[i] == "*":
                i += 1
                if (
                    argnum < len(args)
                    and isinstance(args[argnum], int)
                    and not isinstance(args[argnum], bool)
                ):
                    f.prec = args[argnum]
                    if f.prec < 0:
                        f.prec = None
                else:
                    out.append("%!(BADPREC)")
                argnum += 1
                reordered = False
            else:
                start = i
                while i < end and fmt[i].isdigit():
                    i += 1
                f.prec = int(fmt[start:i]) if i > start else 0
        if not reordered:
            argnum, i, good, reordered = _arg_index(fmt, i, argnum, len(args), good, reordered)
        if i >= end:
            out.append("%!(NOVERB)")
            break
        verb = fmt[i]
        i += 1
        if verb == "%":
            out.append("%")
        elif not good:
            out.append(f"%!{verb}(BADINDEX)")
        elif argnum >= len(args):
            out.append(f"%!{verb}(MISSING)")
        else:
            arg = args[argnum]
            argnum += 1
            if verb == "w":
                verb = "v"
            if verb == "v":
                f.sharp_v, f.sharp = f.sharp, False
                f.plus_v, f.plus = f.plus, False
            out.append(_fmt(arg, verb, f, 0))
    if not reordered and argnum < len(args):
        extra = ", ".join(
            "<nil>" if a is None else f"{go_type(a)}={_fmt(a, 'v', _PLAIN, 0)}" for a in args[argnum:]
        )
        out.append(f"%!(EXTRA {extra})")
    return "".join(out)


def _arg_index(
    fmt: str, i: int, argnum: int, nargs: int, good: bool, reordered: bool
) -> tuple[int, int, bool, bool]:
    """Parse an ``[n]`` argument index at ``fmt[i]``."""
    if i >= len(fmt) or fmt[i] != "[":
        return argnum, i, good, reordered
    close = fmt.find("]", i)
    if close < 0 or not fmt[i + 1 : close].isdigit():
        return argnum, (close + 1 if close >= 0 else len(fmt)), False, True
    index = int(fmt[i + 1 : close]) - 1
    if index < 0 or index >= nargs:
        return argnum, close + 1, False, True
    return index, close + 1, good, True
