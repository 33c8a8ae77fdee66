"""Fixtures of the runtime's integration tests."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.helpers.oci import Runtime, make_config, new_id, write_bundle


@pytest.fixture
def rt(tmp_path: Path) -> Iterator[Runtime]:
    runtime = Runtime(tmp_path / "state")
    yield runtime
    runtime.cleanup()


@pytest.fixture
def bundle(tmp_path: Path, rootfs: Path) -> Callable[..., Path]:
    """bundle(args, **config changes) -> a bundle directory using a private busybox rootfs."""

    def make(args: list[str], edit: Callable[[dict[str, Any]], None] | None = None, **changes: Any) -> Path:
        config = make_config(args, **changes)
        if edit is not None:
            edit(config)
        path = tmp_path / new_id("bundle")
        return write_bundle(path, rootfs, config)

    return make
