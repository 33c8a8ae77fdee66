"""The image store: records, references, lookups."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pallet.errors import ConfigError, ConflictError, NotFoundError
from pallet.image.store import ImageStore, chain_ids


def _image(store: ImageStore, payload: bytes, created: str = "2024-01-01T00:00:00Z") -> tuple[bytes, bytes]:
    layer = store.content.add_bytes(payload)
    diff_id = layer  # an uncompressed layer: digest == diff id
    config = json.dumps({"architecture": "amd64", "os": "linux", "created": created,
                         "config": {"Cmd": ["sh"]}, "rootfs": {"type": "layers", "diff_ids": [diff_id]}}).encode()
    import hashlib

    manifest = json.dumps({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": "sha256:" + hashlib.sha256(config).hexdigest(), "size": len(config)},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": layer, "size": len(payload)}],
    }).encode()
    return manifest, config


def test_add_get_list(tmp_path: Path) -> None:
    store = ImageStore(tmp_path)
    m, c = _image(store, b"layer one")
    img = store.add_image(m, c, ["docker.io/library/one:latest"])
    assert img.id.startswith("sha256:")
    assert store.get("docker.io/library/one:latest").id == img.id
    assert store.get(img.id).id == img.id
    assert store.get(img.id[7:19]).id == img.id
    assert store.config(img)["config"]["Cmd"] == ["sh"]
    assert store.manifest(img)["layers"][0]["size"] == 9
    assert [i.id for i in store.list()] == [img.id]
    assert img.chain_id == img.diff_ids[0]
    assert store.content.has(img.manifest_digest) and store.content.has(img.config_digest)
    with pytest.raises(NotFoundError, match="No such image: nope:latest"):
        store.get("nope:latest")


def test_tag_moves_and_leaves_dangling(tmp_path: Path) -> None:
    store = ImageStore(tmp_path)
    a = store.add_image(*_image(store, b"a"), ["docker.io/library/x:1"])
    b = store.add_image(*_image(store, b"b"), ["docker.io/library/y:1"])
    store.tag(b.id, "docker.io/library/x:1")
    assert store.get("docker.io/library/x:1").id == b.id
    assert store.get(a.id).repo_tags == []
    store.untag("docker.io/library/x:1")
    assert sorted(store.get(b.id).repo_tags) == ["docker.io/library/y:1"]
    with pytest.raises(NotFoundError):
        store.untag("docker.io/library/x:1")
    store.remove(a.id)
    with pytest.raises(NotFoundError):
        store.get(a.id)


def test_digest_refs_and_merge(tmp_path: Path) -> None:
    store = ImageStore(tmp_path)
    m, c = _image(store, b"d")
    img = store.add_image(m, c, ["docker.io/library/d:latest"])
    ref = f"docker.io/library/d@{img.manifest_digest}"
    assert store.get(ref).id == img.id
    again = store.add_image(m, c, [ref, "docker.io/library/d:v2"])
    assert again.id == img.id
    assert sorted(again.repo_tags) == ["docker.io/library/d:latest", "docker.io/library/d:v2"]
    assert again.repo_digests == [ref]
    assert len(store.list()) == 1


def test_bad_input(tmp_path: Path) -> None:
    store = ImageStore(tmp_path)
    m, c = _image(store, b"e")
    with pytest.raises(ConfigError, match="not a normalised"):
        store.add_image(m, c, ["noTag"])
    with pytest.raises(ConfigError, match="diff_ids"):
        store.add_image(m, json.dumps({"rootfs": {"diff_ids": []}}).encode(), [])
    with pytest.raises(ConfigError, match="not valid JSON"):
        store.add_image(b"{", c, [])
    with pytest.raises(ConfigError, match="not an image manifest"):
        store.add_image(json.dumps({"mediaType": "application/vnd.oci.image.index.v1+json"}).encode(), c)


def test_ambiguous_prefix(tmp_path: Path) -> None:
    store = ImageStore(tmp_path)
    ids = [store.add_image(*_image(store, bytes([i]))).id for i in range(40)]
    firsts = [i[7] for i in ids]
    dup = next(ch for ch in firsts if firsts.count(ch) > 1)
    with pytest.raises(ConflictError, match="ambiguous"):
        store.get(dup)


def test_chain_ids() -> None:
    a = "sha256:" + "a" * 64
    b = "sha256:" + "b" * 64
    import hashlib

    assert chain_ids([a, b]) == [a, "sha256:" + hashlib.sha256(f"{a} {b}".encode()).hexdigest()]
    assert chain_ids([]) == []
