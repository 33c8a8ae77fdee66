"""Fixtures of the runtime's integration tests."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.helpers.leaks import SESSION_TAG
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


@pytest.fixture
def reachable_dir() -> Iterator[Path]:
    """A directory that a container's mapped root (host uid 100000) can walk into: pytest's own are
    private to root."""
    top = Path(tempfile.mkdtemp(prefix=f"pallet-userns-{SESSION_TAG}-"))
    os.chmod(top, 0o755)
    yield top
    shutil.rmtree(top)
