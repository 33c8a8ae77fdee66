"""Go's fmt as templates use it: Sprintf verbs and %v of values (expectations from Go's fmt docs)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pallet.cli.gotemplate import Struct, format_value, render, sprint, sprintf

SPRINTF = [
    ("%d|%5d|%-5d|%05d|%+d|% d", (42, 42, 42, -42, 42, 42), "42|   42|42   |-0042|+42| 42"),
    ("%x|%X|%#x|%o|%#o|%O|%b|%#b", (255, 255, 255, 8, 8, 8, 5, 5), "ff|FF|0xff|10|010|0o10|101|0b101"),
    ("%c|%q|%U|%#U", (65, 97, 0x1F600, 65), "A|'a'|U+1F600|U+0041 'A'"),
    ("%.3d|%8.3d|%.0d|", (7, 7, 0), "007|     007||"),
    (
        "%s|%10s|%-10s|%.2s|%q|%x|% x|%X",
        ("go", "go", "go", "golang", 'a"b', "hi", "hi", "hi"),
        'go|        go|go        |go|"a\\"b"|6869|68 69|6869',
    ),
    ("%#q|%+q", ("back", "é"), '`back`|"\\u00e9"'),
    ("%05s", ("ab",), "000ab"),
    (
        "%f|%.2f|%5.2f|%-8.1f|%e|%E|%.3e",
        (3.14159, 3.14159, 3.14159, 2.5, 1234.5678, 1234.5678, 1234.5678),
        "3.141590|3.14| 3.14|2.5     |1.234568e+03|1.234568E+03|1.235e+03",
    ),
    ("%g|%g|%g|%.3g|%G", (0.000012, 100000.0, 1e21, 1234.5678, 1e-7), "1.2e-05|100000|1e+21|1.23e+03|1E-07"),
    ("%+.1f|% .1f|%08.2f|%+08.2f", (1.0, 1.0, -3.14159, 3.14159), "+1.0| 1.0|-0003.14|+0003.14"),
    ("%t|%v|%t", (True, False, 1), "true|false|%!t(int=1)"),
    (
        "%v|%v|%v|%v|%v",
        (None, [1, "a"], {"b": 2, "a": 1}, 1.0, float("inf")),
        "<nil>|[1 a]|map[a:1 b:2]|1|+Inf",
    ),
    ("%d|%s|%d", ("x", 5, None), "%!d(string=x)|%!s(int=5)|%!d(<nil>)"),
    ("%d %d", (1,), "1 %!d(MISSING)"),
    ("%d", (1, "x", 2.5), "1%!(EXTRA string=x, float64=2.5)"),
    ("%", (), "%!(NOVERB)"),
    ("%z", (1,), "%!z(int=1)"),
    ("100%%", (), "100%"),
    ("%*d|%-*d|%.*f", (5, 1, 4, 2, 2, 3.14159), "    1|2   |3.14"),
    ("%[2]d %[1]d", (1, 2), "2 1"),
    (
        "%T %T %T %T %T %T",
        (1, "s", 1.5, True, [1], {"a": 1}),
        "int string float64 bool []interface {} map[string]interface {}",
    ),
    ("%d", ([1, 2, 3],), "[1 2 3]"),
    ("%5d", ([1, 2],), "[    1     2]"),
    ("%q", (["a", "b"],), '["a" "b"]'),
    ("%s", ({"k": ["v"]},), "map[k:[v]]"),
    (
        "%v|%+v",
        (Struct({"A": 1, "B": "x"}, type_name="T"), Struct({"A": 1, "B": "x"}, type_name="T")),
        "{1 x}|{A:1 B:x}",
    ),
    (
        "%#v|%#v|%#v",
        ("s", [1, "a"], Struct({"A": 1}, type_name="main.T")),
        '"s"|[]interface {}{1, "a"}|main.T{A:1}',
    ),
    ("%x|%X", (-255, 3.0), "-ff|%!X(float64=3)"),
    ("%6.2f%%", (12.3456,), " 12.35%"),
]


@pytest.mark.parametrize(("fmt", "args", "want"), SPRINTF, ids=[s[0] for s in SPRINTF])
def test_sprintf(fmt: str, args: tuple[object, ...], want: str) -> None:
    assert sprintf(fmt, *args) == want


VALUES = [
    (None, "<nil>"),
    (True, "true"),
    (0.1, "0.1"),
    (1e6, "1e+06"),
    (123456.0, "123456"),
    (1234567.0, "1.234567e+06"),
    (1e-5, "1e-05"),
    (0.0001, "0.0001"),
    (-2.5, "-2.5"),
    (0.0, "0"),
    (float("nan"), "NaN"),
    (float("-inf"), "-Inf"),
    ([], "[]"),
    ([None, [1, [2]]], "[<nil> [1 [2]]]"),
    ({}, "map[]"),
    ({"z": None, "a": {"x": 1.5}}, "map[a:map[x:1.5] z:<nil>]"),
    ({2: "b", 10: "a"}, "map[2:b 10:a]"),
    (Struct({"A": [1], "B": {"k": "v"}, "C": Struct({"D": True})}), "{[1] map[k:v] {true}}"),
]


@pytest.mark.parametrize(("value", "want"), VALUES, ids=[v[1] for v in VALUES])
def test_format_value(value: object, want: str) -> None:
    assert format_value(value) == want


def test_sprint_spacing() -> None:
    assert sprint(1, 2) == "1 2"
    assert sprint("a", 1, 2, "b") == "a1 2b"
    assert sprint("a", "b") == "ab"
    assert sprint(1.5, None) == "1.5 <nil>"


@given(
    st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.sampled_from(["d", "x", "X", "o"]),
    st.sampled_from(["", "5", "-8", "012", "+", " ", "+09"]),
)
def test_printf_ints_match_c_style_formatting(n: int, verb: str, flags: str) -> None:
    # Go's fmt and Python's %-formatting agree for these flags and verbs (no '#').
    assert sprintf(f"%{flags}{verb}", n) == f"%{flags}{verb}" % n


@given(st.integers(min_value=-(2**63), max_value=2**63 - 1))
def test_printf_binary(n: int) -> None:
    assert sprintf("%b", n) == format(n, "b")
    assert sprintf("%v", n) == str(n)


@given(
    st.floats(allow_nan=False, allow_infinity=False, width=64),
    st.integers(min_value=0, max_value=10),
    st.sampled_from(["f", "e"]),
)
def test_printf_floats_match_python(x: float, prec: int, verb: str) -> None:
    assert sprintf(f"%.{prec}{verb}", x) == f"%.{prec}{verb}" % x


@given(st.floats(allow_nan=False, allow_infinity=False, width=64))
def test_v_of_float_round_trips(x: float) -> None:
    # %v prints the shortest representation that reads back as the same float64
    assert float(format_value(x)) == x


@given(st.text(max_size=20), st.integers(min_value=0, max_value=30))
def test_printf_strings_pad_like_go(s: str, width: int) -> None:
    assert sprintf(f"%{width}s", s) == s.rjust(width)
    assert sprintf(f"%-{width}s", s) == s.ljust(width)


def test_printf_in_templates() -> None:
    assert (
        render('{{printf "%-6s|%6.2f|%03d" .N .F .I}}', {"N": "ab", "F": 2.0, "I": 7}) == "ab    |  2.00|007"
    )
    assert render('{{printf "%v" .}}', {"b": [1], "a": None}) == "map[a:<nil> b:[1]]"
