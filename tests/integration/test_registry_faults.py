"""A registry that misbehaves: wrong digests, truncated and interrupted downloads, missing images.

Each fault gives a clear error, leaves no image record (and no blob that does not verify), and the
next attempt succeeds, resuming what was already received.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.helpers.registry import FakeRegistry, make_image

from pallet.image.reference import InvalidReferenceError
from pallet.image.registry.client import RegistryOptions
from pallet.image.registry.errors import DigestMismatchError, ImageNotFoundError, RegistryError
from pallet.image.registry.pull import pull
from pallet.image.store import Image, ImageStore

BIG = 2 << 20


@pytest.fixture
def fake(tmp_path: Path, busybox_rootfs: Path) -> Iterator[tuple[FakeRegistry, Image, str]]:
    """A fake registry holding one image (busybox + a 2 MiB random layer) as fake/app:v1."""
    server = FakeRegistry()
    source = ImageStore(tmp_path / "source")
    image = make_image(source, busybox_rootfs, f"{server.host}/fake/app:v1", extra_layer=os.urandom(BIG))
    assert isinstance(image, Image)
    server.add_image(source, image, "fake/app", "v1")
    try:
        yield server, image, f"{server.host}/fake/app:v1"
    finally:
        server.close()


def _big_layer(image: Image) -> str:
    return str(max(image.layers, key=lambda la: la["size"])["digest"])


def _ranges(server: FakeRegistry, digest: str) -> list[str]:
    return [r for m, p, r in server.requests if m == "GET" and p.endswith(digest)]


def test_wrong_digest_is_refused_and_discarded(fake: tuple[FakeRegistry, Image, str], tmp_path: Path) -> None:
    server, image, ref = fake
    bad = _big_layer(image)
    server.modes[bad] = "wrong"
    store = ImageStore(tmp_path / "store")
    with pytest.raises(DigestMismatchError) as info:
        pull(store, ref)
    assert bad in str(info.value) and "mismatch" in str(info.value)
    assert store.list() == []
    assert not store.content.has(bad)
    assert store.content.ingests() == []
    assert len(_ranges(server, bad)) == 1  # not retried: a wrong digest is not transient
    server.modes.clear()
    assert pull(store, ref).image.id == image.id


def test_truncated_download_fails_then_resumes(fake: tuple[FakeRegistry, Image, str], tmp_path: Path) -> None:
    server, image, ref = fake
    big = _big_layer(image)
    server.modes[big] = "truncate"
    server.cut = BIG // 2
    store = ImageStore(tmp_path / "store")
    with pytest.raises(RegistryError) as info:
        pull(store, ref, retries=2)
    message = str(info.value)
    assert big in message and "failed after 2 attempts" in message and "resumes" in message
    assert store.list() == []
    assert not store.content.has(big)
    assert store.content.ingest_offset(f"pull:{big}") == server.cut
    # The retry inside the pull already asked for the rest.
    assert _ranges(server, big) == ["", f"bytes={server.cut}-"]

    server.modes.clear()
    result = pull(store, ref)
    assert result.image.id == image.id
    assert _ranges(server, big)[-1] == f"bytes={server.cut}-"
    assert store.content.read(big) == server.blobs[big]
    assert result.downloaded < BIG  # the first half was not fetched again
    assert store.content.ingests() == []


def test_registry_ignoring_range_restarts_the_blob(fake: tuple[FakeRegistry, Image, str], tmp_path: Path) -> None:
    server, image, ref = fake
    big = _big_layer(image)
    server.modes[big] = "truncate"
    server.cut = BIG // 3
    store = ImageStore(tmp_path / "store")
    with pytest.raises(RegistryError):
        pull(store, ref, retries=1)
    server.modes[big] = "norange"
    result = pull(store, ref)
    assert result.image.id == image.id
    assert store.content.read(big) == server.blobs[big]


def test_sigkill_mid_pull_then_the_same_pull_resumes(fake: tuple[FakeRegistry, Image, str], tmp_path: Path) -> None:
    server, image, ref = fake
    big = _big_layer(image)
    server.modes[big] = "slow"
    server.delay = 0.02  # 64 chunks of 32 KiB: about 1.3 s for the layer
    root = tmp_path / "root"
    pallet = os.path.join(os.path.dirname(sys.executable), "pallet")
    proc = subprocess.Popen([pallet, "--root", str(root), "pull", ref], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    store = ImageStore(root)
    try:
        deadline = time.monotonic() + 20
        while store.content.ingest_offset(f"pull:{big}") < 256 * 1024:
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
            assert time.monotonic() < deadline, "the pull did not start downloading"
            time.sleep(0.01)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        if proc.stderr:
            proc.stderr.close()
    kept = store.content.ingest_offset(f"pull:{big}")
    assert kept >= 256 * 1024
    assert store.list() == []
    assert not store.content.has(big)

    server.modes.clear()
    result = pull(store, ref)
    assert result.image.id == image.id
    resumed_from = int(_ranges(server, big)[-1].removeprefix("bytes=").rstrip("-"))
    assert resumed_from >= kept
    assert store.content.read(big) == server.blobs[big]
    assert store.content.ingests() == []


def test_missing_image_and_bad_reference(fake: tuple[FakeRegistry, Image, str], tmp_path: Path) -> None:
    server, _image, _ref = fake
    store = ImageStore(tmp_path / "store")
    with pytest.raises(ImageNotFoundError, match=f"{server.host}/fake/app:nope.*MANIFEST_UNKNOWN"):
        pull(store, f"{server.host}/fake/app:nope")
    with pytest.raises(InvalidReferenceError, match="'fake/App:v1'"):
        pull(store, "fake/App:v1")
    with pytest.raises(DigestMismatchError):
        # The fake answers a digest it does not have with 404; ask by a digest of another manifest.
        server.manifests[("fake/app", "sha256:" + "0" * 64)] = server.manifests[("fake/app", "v1")]
        pull(store, f"{server.host}/fake/app@sha256:{'0' * 64}", options=RegistryOptions())
    assert store.list() == []


def test_cli_pull_errors_exit_1_with_one_clear_line(fake: tuple[FakeRegistry, Image, str], tmp_path: Path) -> None:
    server, image, ref = fake
    pallet = os.path.join(os.path.dirname(sys.executable), "pallet")
    root = str(tmp_path / "root")
    bad = subprocess.run([pallet, "--root", root, "pull", "Bad/Ref:x"], capture_output=True, text=True)
    assert bad.returncode == 1  # docker pull exits 1 on an error (125 is for flags and run)
    assert bad.stderr.startswith("Error: invalid reference 'Bad/Ref:x' (from pallet pull)")
    missing = subprocess.run([pallet, "--root", root, "pull", f"{server.host}/fake/app:nope"],
                             capture_output=True, text=True)
    assert missing.returncode == 1 and "MANIFEST_UNKNOWN" in missing.stderr
    ok = subprocess.run([pallet, "--root", root, "pull", ref], capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    lines = ok.stdout.splitlines()
    assert lines[0] == "v1: Pulling from fake/app"
    assert f"Digest: {image.manifest_digest}" in lines
    assert lines[-1] == ref
    assert ImageStore(root).get(ref).id == image.id
