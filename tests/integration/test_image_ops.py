"""commit, import, export, rmi, prune: on a real store with real snapshots."""

from __future__ import annotations

import gzip
import io
import os
import tarfile
from pathlib import Path

import pytest
from tests.helpers.layertar import LayerTar

from pallet.errors import ConfigError, ConflictError, NotFoundError
from pallet.image.build_busybox import build_busybox
from pallet.image.commit import commit_container, export_snapshot, import_tarball
from pallet.image.remove import collect, prune, remove_image
from pallet.image.snapshot import open_snapshotter
from pallet.image.snapshot.base import Snapshotter
from pallet.image.store import ImageStore
from pallet.image.unpack import prepare_rootfs

pytestmark = pytest.mark.skipif(not os.path.exists("/bin/busybox"), reason="busybox-static not installed")
REF = "docker.io/library/busybox:latest"


@pytest.fixture
def stores(tmp_path: Path) -> tuple[ImageStore, Snapshotter]:
    return ImageStore(tmp_path / "root"), open_snapshotter(tmp_path / "root/snapshots", "overlay")


def test_commit_and_export(stores: tuple[ImageStore, Snapshotter]) -> None:
    images, snap = stores
    base = build_busybox(images)
    prepare_rootfs(images, snap, base, "ctr")
    upper = Path(snap.upper_dir("ctr"))
    (upper / "hello").write_text("world")
    new = commit_container(images, snap, "ctr", base, refs=["docker.io/library/mine:1"], message="msg",
                           author="me", changes=["CMD [\"cat\", \"/hello\"]", "ENV A=b", "EXPOSE 80"])
    cfg = images.config(new)
    assert cfg["config"]["Cmd"] == ["cat", "/hello"]
    assert "A=b" in cfg["config"]["Env"] and cfg["config"]["ExposedPorts"] == {"80/tcp": {}}
    assert cfg["author"] == "me" and cfg["history"][-1]["comment"] == "msg"
    assert len(new.layers) == 2 and new.diff_ids[0] == base.diff_ids[0]
    assert snap.exists(new.chain_id or "")
    assert (Path(snap.upper_dir(new.chain_id or "")) / "hello").read_text() == "world"
    prepare_rootfs(images, snap, new, "ctr2")
    buf = io.BytesIO()
    export_snapshot(snap, "ctr2", buf)
    buf.seek(0)
    with tarfile.open(fileobj=buf) as tf:
        names = set(tf.getnames())
        assert tf.extractfile("hello").read() == b"world"  # type: ignore[union-attr]
    assert {"bin/busybox", "etc/passwd", "hello"} <= names
    snap.remove("ctr2")
    snap.remove("ctr")


def test_import_with_changes(stores: tuple[ImageStore, Snapshotter]) -> None:
    images, snap = stores
    tarball = gzip.compress(LayerTar().file("bin/tool", b"#!", mode=0o755).dir("etc").bytes())
    img = import_tarball(images, snap, io.BytesIO(tarball), refs=["docker.io/library/imp:latest"],
                         changes=["ENTRYPOINT [\"/bin/tool\"]", "WORKDIR /srv", "USER 1000", "LABEL a=b c=d",
                                  "VOLUME /data"], message="imported", source_name="t.tgz")
    cfg = images.config(img)["config"]
    assert cfg["Entrypoint"] == ["/bin/tool"] and cfg["WorkingDir"] == "/srv" and cfg["User"] == "1000"
    assert cfg["Labels"] == {"a": "b", "c": "d"} and cfg["Volumes"] == {"/data": {}}
    assert img.layers[0]["digest"] == img.diff_ids[0]  # stored uncompressed
    assert (Path(snap.upper_dir(img.chain_id or "")) / "bin/tool").read_bytes() == b"#!"
    with pytest.raises(ConfigError, match="'FROM' is not a supported instruction"):
        import_tarball(images, snap, io.BytesIO(tarball), changes=["FROM x"])
    with pytest.raises(ConfigError, match="not a port"):
        import_tarball(images, snap, io.BytesIO(tarball), changes=["EXPOSE 99999"])


def test_malicious_import_leaves_no_image(stores: tuple[ImageStore, Snapshotter]) -> None:
    images, snap = stores
    from pallet.image.layers import LayerError

    with pytest.raises(LayerError, match=r"'\.\.'"):
        import_tarball(images, snap, io.BytesIO(LayerTar().file("../x", b"").bytes()), refs=["docker.io/library/bad:1"])
    assert images.list() == []
    assert [i.kind for i in snap.list()] == []


def test_rmi_and_prune(stores: tuple[ImageStore, Snapshotter]) -> None:
    images, snap = stores
    img = build_busybox(images)
    images.tag(img.id, "docker.io/library/busybox:two")
    prepare_rootfs(images, snap, img, "ctr")
    assert remove_image(images, snap, REF) == ["Untagged: busybox:latest"]
    with pytest.raises(ConflictError, match="container is using"):
        remove_image(images, snap, "docker.io/library/busybox:two", in_use={img.id})
    snap.remove("ctr")
    lines = remove_image(images, snap, "docker.io/library/busybox:two")
    assert lines == ["Untagged: busybox:two", f"Deleted: {img.id}"]
    assert images.content.list() == []
    assert snap.list() == []
    with pytest.raises(NotFoundError):
        remove_image(images, snap, REF)
    # prune: only dangling images by default
    a = build_busybox(images)
    dangling = import_tarball(images, snap, io.BytesIO(LayerTar().file("x", b"1").bytes()))
    lines, reclaimed = prune(images, snap)
    assert lines == [f"deleted: {dangling.id}"] and reclaimed > 0
    assert [i.id for i in images.list()] == [a.id]
    lines, _ = prune(images, snap, all_unused=True, in_use={a.id})
    assert lines == []
    prune(images, snap, all_unused=True)
    assert images.list() == [] and snap.list() == [] and collect(images, snap) == (0, 0)
