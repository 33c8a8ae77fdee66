"""go-units: expectations from go-units' own documentation and tests."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pallet.cli.units import (
    bytes_size,
    from_human_size,
    human_duration,
    human_size,
    human_size_with_precision,
    ram_in_bytes,
)
from pallet.errors import ConfigError


@pytest.mark.parametrize(
    ("size", "want"),
    [
        (0, "0B"), (999, "999B"), (1000, "1kB"), (1024, "1.024kB"), (2_500_000, "2.5MB"),
        (1_234_567_890, "1.235GB"), (1e12, "1TB"), (1e15, "1PB"), (1e30, "1e+06YB"),
        (4_413_894, "4.414MB"), (999_950, "1000kB"),
    ],
)  # fmt: skip
def test_human_size(size: float, want: str) -> None:
    assert human_size(size) == want


def test_human_size_with_precision() -> None:
    assert human_size_with_precision(1_234_567, 3) == "1.23MB"
    assert human_size_with_precision(0, 3) == "0B"


@pytest.mark.parametrize(
    ("size", "want"),
    [(0, "0B"), (1023, "1023B"), (1024, "1KiB"), (1536 * 1024, "1.5MiB"), (1024**3 * 7.5, "7.5GiB"),
     (1024**4, "1TiB"), (123_456_789, "117.7MiB")],
)  # fmt: skip
def test_bytes_size(size: float, want: str) -> None:
    assert bytes_size(size) == want


@pytest.mark.parametrize(
    ("seconds", "want"),
    [
        (0, "Less than a second"), (0.9, "Less than a second"), (1, "1 second"), (2, "2 seconds"),
        (59, "59 seconds"), (60, "About a minute"), (119, "About a minute"), (120, "2 minutes"),
        (59 * 60, "59 minutes"), (60 * 60, "About an hour"), (89 * 60, "About an hour"),
        (90 * 60, "2 hours"), (47 * 3600, "47 hours"), (48 * 3600, "2 days"), (13 * 86400, "13 days"),
        (14 * 86400, "2 weeks"), (59 * 86400, "8 weeks"), (60 * 86400, "2 months"),
        (729 * 86400, "24 months"), (730 * 86400, "2 years"), (3650 * 86400, "10 years"),
    ],
)  # fmt: skip
def test_human_duration(seconds: float, want: str) -> None:
    assert human_duration(seconds) == want


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ("32", 32), ("32b", 32), ("32B", 32), ("32k", 32 * 1024), ("32K", 32 * 1024), ("32kb", 32 * 1024),
        ("32Kib", 32 * 1024), ("32KIB", 32 * 1024), ("512m", 512 * 1024**2), ("1g", 1024**3),
        ("1.5GB", int(1.5 * 1024**3)), ("1.5 gb", int(1.5 * 1024**3)), ("0.5t", 1024**4 // 2),
        ("1p", 1024**5), ("32.3", 32), ("6m", 6 * 1024**2),
    ],
)  # fmt: skip
def test_ram_in_bytes(text: str, want: int) -> None:
    assert ram_in_bytes(text) == want


def test_from_human_size_is_decimal() -> None:
    assert from_human_size("1.5GB") == 1_500_000_000
    assert from_human_size("32kb") == 32_000
    assert from_human_size("1KiB") == 1000  # go-units: the suffix form does not change the base


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "invalid size: ''"), ("abc", "invalid size: 'abc'"), ("-1", "invalid size: '-1'"),
        ("32x", "invalid suffix: 'x'"), ("32kx", "invalid suffix: 'kx'"), ("32bb", "invalid suffix: 'bb'"),
        ("32kibx", "invalid suffix: 'kibx'"), ("32kbb", "invalid suffix: 'kbb'"), ("1.2.3m", "invalid size: '1.2.3m'"),
    ],
)  # fmt: skip
def test_bad_sizes_name_the_value_and_flag(text: str, reason: str) -> None:
    with pytest.raises(ConfigError) as e:
        ram_in_bytes(text, "-m, --memory")
    msg = str(e.value)
    assert msg.startswith(f'invalid argument "{text}" for "-m, --memory" flag: {reason}')
    assert "expected a number with an optional unit" in msg
    assert e.value.exit_code == 125


@given(st.integers(min_value=0, max_value=2**50), st.sampled_from(["", "k", "m", "g"]))
def test_ram_in_bytes_round_trip(n: int, unit: str) -> None:
    mult = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3}[unit]
    assert ram_in_bytes(f"{n}{unit}") == n * mult


@given(st.floats(min_value=0, max_value=1e27))
def test_human_size_has_at_most_four_significant_digits(x: float) -> None:
    out = human_size(x)
    digits = out.rstrip("BkMGTPEZY").split("e")[0].replace(".", "").lstrip("0")
    assert len(digits) <= 4
