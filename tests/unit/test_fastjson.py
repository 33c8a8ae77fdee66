"""pallet.fastjson parses and writes what the json package does, without importing it."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pallet import fastjson

values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(), inner, max_size=5),
    max_leaves=30,
)


@given(values)
def test_round_trip_matches_json(value: object) -> None:
    text = fastjson.dumps(value)
    assert json.loads(text) == value
    assert fastjson.loads(text) == value
    assert fastjson.loads(json.dumps(value, indent=2).encode()) == value


@pytest.mark.parametrize("bad", ["", "{", "[1,]", "1 2", '{"a": 1', '{"a"', "nul"])
def test_errors_are_json_decode_errors_with_position(bad: str) -> None:
    with pytest.raises(json.JSONDecodeError) as info:
        fastjson.loads(bad)
    with pytest.raises(json.JSONDecodeError) as expected:
        json.loads(bad)
    assert (info.value.lineno, info.value.colno) == (expected.value.lineno, expected.value.colno)


def test_does_not_import_json_or_re() -> None:
    code = "import sys; from pallet import fastjson; fastjson.loads(fastjson.dumps({'a': [1]})); " \
           "print('json' in sys.modules, 're' in sys.modules)"
    out = subprocess.run([sys.executable, "-S", "-c", f"import sys; sys.path[:0] = {sys.path!r}; {code}"],
                         capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


def test_bytes_with_a_bom_parse_as_json_reads_them_without_the_sig_codec() -> None:
    doc = b'\xef\xbb\xbf{"a": [1, "\xc3\xa9"]}'
    assert fastjson.loads(doc) == json.loads(doc) == {"a": [1, "\u00e9"]}
    assert fastjson.loads(doc[3:]) == json.loads(doc[3:])
    with pytest.raises(ValueError):
        fastjson.loads(b"\xff")
    code = "import sys; from pallet import fastjson; fastjson.loads(b'\\xef\\xbb\\xbf[1]'); " \
           "print('encodings.utf_8_sig' in sys.modules)"
    out = subprocess.run([sys.executable, "-S", "-c", f"import sys; sys.path[:0] = {sys.path!r}; {code}"],
                         capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False"]
