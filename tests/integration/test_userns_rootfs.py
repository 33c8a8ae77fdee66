"""pallet.engine.userns_rootfs on the real kernel: a remapped container's root filesystem, seen from
the host, for both snapshotters (overlay, vfs) and both ways (idmapped layers, shifted copies)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from pallet.engine.service import Engine

MAP = [{"containerID": 0, "hostID": 100000, "size": 65536}]
USERNS = {"Remap": "default", "UidMap": MAP, "GidMap": MAP}


@pytest.fixture(params=["overlay", "vfs"])
def driver(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    from pallet.engine import images
    from pallet.image import snapshot

    name = str(request.param)
    monkeypatch.setattr(snapshot, "default_driver", lambda: name)
    monkeypatch.setattr(images, "_SNAPSHOTTERS", {})
    yield name


def _container(tmp_path: Path, mode: str) -> tuple[Engine, dict[str, Any], Path]:
    from pallet.engine import images
    from pallet.engine.service import Engine
    from pallet.image.build_busybox import build_busybox
    from pallet.image.store import ImageStore

    root = tmp_path / "root"
    build_busybox(ImageStore(str(root)))
    (root / "config.json").write_text(json.dumps({"userns-rootfs": mode}))
    engine = Engine(str(root), str(tmp_path / "run"))
    cid = engine.store.new_id()
    engine.store.create_dir(cid)
    images.prepare_rootfs(str(root), cid, images.find_image(str(root), "busybox"))
    record = {"Id": cid, "Config": {"WorkingDir": "/made/here"}}
    return engine, record, Path(engine.store.path(cid, "rootfs"))


@pytest.mark.parametrize("mode", ["idmap", "copy"])
def test_remapped_rootfs_from_the_host(tmp_path: Path, driver: str, mode: str) -> None:
    from pallet.engine import images
    from pallet.engine.userns_rootfs import mount_rootfs

    engine, record, target = _container(tmp_path, mode)
    for attempt in range(2):  # a second mount (a restart) sees the same owners
        mount_rootfs(engine, record, str(target), USERNS)
        try:
            # Through the mount, the image's root-owned files belong to the mapped root.
            st = os.stat(target / "bin" / "busybox")
            assert (st.st_uid, st.st_gid) == (100000, 100000), (driver, mode, attempt)
            assert os.stat(target).st_uid == 100000
            made = os.stat(target / "made" / "here")  # the working directory, for the mapped root
            assert (made.st_uid, made.st_gid) == (100000, 100000)
        finally:
            images.unmount_rootfs(str(target))
    cdir = Path(engine.store.path(str(record["Id"])))
    shifted_in_place = (cdir / "userns-shifted").exists()
    assert shifted_in_place == (driver == "vfs" and mode == "copy")
    shared = list((tmp_path / "root" / "userns").glob("*/*"))
    assert len(shared) == (1 if driver == "overlay" and mode == "copy" else 0)
    if driver == "overlay":  # the image layer itself is never changed
        snap = images.snapshotter(str(tmp_path / "root"))
        lower = snap.lower_dirs(str(record["Id"]))[0]
        assert os.stat(Path(lower) / "bin" / "busybox").st_uid == 0
