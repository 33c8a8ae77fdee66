"""pallet.atomicfile.write_atomic: whole replacement, exact mode, nothing left behind on errors."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from pallet.atomicfile import write_atomic


def test_replaces_the_file_whole_with_the_mode_asked_for(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    path.write_text("old content, longer than the new one")
    old = os.umask(0o077)
    try:
        write_atomic(str(path), "new")
        assert path.read_text() == "new" and path.stat().st_mode & 0o777 == 0o644
        write_atomic(str(path), b"\x00bytes", mode=0o600, durable=True)
        assert path.read_bytes() == b"\x00bytes" and path.stat().st_mode & 0o777 == 0o600
    finally:
        os.umask(old)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["state.json"]


def test_a_failed_write_leaves_the_old_file_and_no_temporary_one(tmp_path: Path) -> None:
    target = tmp_path / "dir"
    target.mkdir()
    (target / "inside").write_text("x")
    with pytest.raises(OSError):
        write_atomic(str(target), "cannot replace a directory")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dir"]


def test_a_leftover_temporary_file_or_link_is_not_followed(tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.write_text("keep me")
    path = tmp_path / "file"
    os.symlink(victim, f"{path}.tmp{os.getpid()}")  # as a process of this pid could have left it
    write_atomic(str(path), "data")
    assert path.read_text() == "data" and victim.read_text() == "keep me"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file", "victim"]
