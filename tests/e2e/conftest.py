"""Fixtures of the engine's end-to-end tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.helpers.cli import Pallet


@pytest.fixture
def pallet(tmp_path: Path) -> Iterator[Pallet]:
    """The `pallet` CLI on a store of the test's own that holds the busybox image; its containers are
    removed afterwards. (test_engine_network and test_engine_userns use stores of their own kind.)"""
    p = Pallet(tmp_path)
    p.make_busybox()
    yield p
    p.cleanup()
