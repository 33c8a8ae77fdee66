"""validate_container_id: runc's rules, checked against a model of them with hypothesis."""

from __future__ import annotations

import string

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from pallet.errors import ConfigError
from pallet.oci.validate import CONTAINER_ID_MAX, validate_container_id

ALLOWED = string.ascii_letters + string.digits + "_+.-"


def is_valid(cid: str) -> bool:
    """The rule, written independently: runc's ^[\\w+-\\.]+$ over ASCII, not . or .., at most 1024."""
    return 0 < len(cid) <= CONTAINER_ID_MAX and cid not in (".", "..") and all(ch in ALLOWED for ch in cid)


@given(st.text(alphabet=ALLOWED, min_size=1, max_size=80))
@example(".a")
@example("a..b")
@example("-")
def test_ids_of_allowed_characters_pass(cid: str) -> None:
    if cid in (".", ".."):
        with pytest.raises(ConfigError):
            validate_container_id(cid)
    else:
        assert validate_container_id(cid) == cid


@given(st.text(max_size=40))
@example("a/b")
@example("../x")
@example("a b")
@example("é")
@example("a\0b")
@example("a\nb")
def test_any_text_is_accepted_exactly_when_the_rule_allows_it(cid: str) -> None:
    if is_valid(cid):
        assert validate_container_id(cid) == cid
    else:
        with pytest.raises(ConfigError) as info:
            validate_container_id(cid)
        assert str(info.value).startswith("container id")


@pytest.mark.parametrize(("cid", "message"), [
    ("", "container id must not be empty"),
    (".", 'container id "." is invalid: it must not be . or ..'),
    ("..", 'container id ".." is invalid: it must not be . or ..'),
    ("a/b", 'container id "a/b" is invalid: it holds "/" (allowed: letters, digits and _ + . -)'),
    ("a b/c", 'container id "a b/c" is invalid: it holds " /" (allowed: letters, digits and _ + . -)'),
    (7, "container id must be a string, got 7"),
])
def test_messages_name_the_id(cid: object, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        validate_container_id(cid)
    assert str(info.value) == message


def test_length_limit() -> None:
    assert validate_container_id("a" * CONTAINER_ID_MAX)
    with pytest.raises(ConfigError, match=r"it has 1025 characters \(at most 1024\)"):
        validate_container_id("a" * (CONTAINER_ID_MAX + 1))
