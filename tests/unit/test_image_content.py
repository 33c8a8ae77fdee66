"""The content store: verified, atomic, resumable ingests."""

from __future__ import annotations

import hashlib
import io
import os
from pathlib import Path

import pytest

from pallet.errors import ConfigError, NotFoundError
from pallet.image.content import ContentStore, DigestMismatch, sha256_digest


def test_ingest_verifies_and_stores(tmp_path: Path) -> None:
    cs = ContentStore(tmp_path)
    data = os.urandom(3 * 1024 * 1024 + 17)
    digest = sha256_digest(data)
    assert cs.ingest(io.BytesIO(data), digest, len(data)) == digest
    assert cs.has(digest)
    assert cs.path(digest) == str(tmp_path / "content/blobs/sha256" / digest[7:])
    assert cs.read(digest) == data
    assert cs.size(digest) == len(data)
    assert os.stat(cs.path(digest)).st_mode & 0o777 == 0o444
    assert cs.list() == [digest]
    assert os.listdir(cs.ingest_dir) == []


def test_wrong_digest_refused_and_discarded(tmp_path: Path) -> None:
    cs = ContentStore(tmp_path)
    wrong = "sha256:" + hashlib.sha256(b"other").hexdigest()
    with pytest.raises(DigestMismatch, match=wrong):
        cs.ingest(b"hello", wrong)
    assert not cs.has(wrong)
    assert os.listdir(cs.ingest_dir) == []
    assert cs.list() == []


def test_wrong_size_refused(tmp_path: Path) -> None:
    cs = ContentStore(tmp_path)
    d = sha256_digest(b"hello")
    with pytest.raises(DigestMismatch, match="expected size of 3"):
        cs.ingest(b"hello", d, 3)
    with pytest.raises(DigestMismatch, match="truncated"):
        cs.ingest(b"hello", d, 9)
    assert not cs.has(d)


def test_bad_digest_strings(tmp_path: Path) -> None:
    cs = ContentStore(tmp_path)
    for bad in ("md5:abc", "sha256:xyz", "sha256:" + "A" * 64, "nocolon", "sha256:../../etc"):
        with pytest.raises(ConfigError, match="not a sha256 digest"):
            cs.path(bad)


def test_resumable_ingest(tmp_path: Path) -> None:
    cs = ContentStore(tmp_path)
    data = os.urandom(100_000)
    digest = sha256_digest(data)

    def broken() -> object:
        yield data[:40_000]
        raise ConnectionError("cut")

    with pytest.raises(ConnectionError):
        cs.ingest(broken(), digest, len(data), ref="layer-1")  # type: ignore[arg-type]
    assert cs.ingest_offset("layer-1") == 40_000
    assert cs.ingests() == ["layer-1"]
    assert not cs.has(digest)
    cs.ingest(data[40_000:], digest, len(data), ref="layer-1")
    assert cs.read(digest) == data
    assert cs.ingest_offset("layer-1") == 0
    assert cs.ingests() == []


def test_resumed_ingest_with_bad_bytes_is_discarded(tmp_path: Path) -> None:
    cs = ContentStore(tmp_path)
    data = b"a" * 1000
    digest = sha256_digest(data)
    cs.ingest_offset("r")
    with pytest.raises(DigestMismatch):
        cs.ingest(b"b" * 1000, digest, 1000, ref="r")
    assert cs.ingest_offset("r") == 0
    cs.ingest(data, digest, 1000, ref="r")
    assert cs.has(digest)


def test_delete_and_missing(tmp_path: Path) -> None:
    cs = ContentStore(tmp_path)
    d = cs.add_bytes(b"x")
    assert cs.delete(d)
    assert not cs.delete(d)
    with pytest.raises(NotFoundError, match=d):
        cs.open_blob(d)


def test_existing_blob_is_not_rewritten(tmp_path: Path) -> None:
    cs = ContentStore(tmp_path)
    d = cs.add_bytes(b"same")
    ino = os.stat(cs.path(d)).st_ino
    assert cs.ingest(io.BytesIO(b"same"), d) == d
    assert os.stat(cs.path(d)).st_ino == ino
