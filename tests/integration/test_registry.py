"""Push and pull against the real reference registry (docker-registry 2.8) on loopback."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.helpers.registry import Registry, SigningKey, make_image, registry_available, start_registry

from pallet.errors import ConfigError
from pallet.image.credentials import Credentials
from pallet.image.reference import InvalidReferenceError
from pallet.image.registry.client import RegistryClient, RegistryOptions
from pallet.image.registry.errors import AuthenticationError, ImageNotFoundError
from pallet.image.registry.progress import PlainProgress
from pallet.image.registry.pull import pull
from pallet.image.registry.push import push
from pallet.image.store import Image, ImageStore

pytestmark = pytest.mark.skipif(not registry_available(), reason="docker-registry is not installed")

USERS = {"alice": "wonderland"}
ALICE = Credentials("alice", "wonderland")


@pytest.fixture(scope="module")
def signing_key(tmp_path_factory: pytest.TempPathFactory) -> SigningKey:
    return SigningKey(tmp_path_factory.mktemp("token-key"))


@pytest.fixture(params=[None, "basic", "token"], ids=["open", "basic", "token"])
def registry(request: pytest.FixtureRequest, tmp_path: Path, signing_key: SigningKey) -> Iterator[Registry]:
    with start_registry(tmp_path / "registry", auth=request.param, users=USERS, key=signing_key) as r:
        yield r


@pytest.fixture
def source(tmp_path: Path, busybox_rootfs: Path) -> ImageStore:
    return ImageStore(tmp_path / "source")


def _image(store: ImageStore, rootfs: Path, ref: str, extra: int = 0) -> Image:
    image = make_image(store, rootfs, ref, extra_layer=os.urandom(extra) if extra else None)
    assert isinstance(image, Image)
    return image


def _opts(creds: Credentials | None = ALICE) -> RegistryOptions:
    return RegistryOptions(credentials=creds)


def test_push_then_pull_into_a_fresh_store(registry: Registry, source: ImageStore, busybox_rootfs: Path,
                                           tmp_path: Path) -> None:
    ref = f"{registry.host}/team/busybox:v1"
    image = _image(source, busybox_rootfs, ref, extra=1 << 20)
    pushed = push(source, ref, options=_opts())
    assert pushed.digest == image.manifest_digest
    assert len(pushed.uploaded) == 3 and not pushed.existing
    # The registry really holds the blobs, byte for byte.
    for layer in image.layers:
        hexpart = layer["digest"].split(":")[1]
        stored = registry.storage / "docker/registry/v2/blobs/sha256" / hexpart[:2] / hexpart / "data"
        assert stored.read_bytes() == source.content.read(layer["digest"])

    fresh = ImageStore(tmp_path / "fresh")
    result = pull(fresh, ref, options=_opts())
    assert result.new and result.downloaded > 1 << 20
    got = result.image
    assert got.id == image.id
    assert got.manifest_digest == image.manifest_digest
    assert got.diff_ids == image.diff_ids
    assert [layer["digest"] for layer in got.layers] == [layer["digest"] for layer in image.layers]
    for layer in image.layers:
        assert fresh.content.read(layer["digest"]) == source.content.read(layer["digest"])
    assert got.repo_tags == [ref]
    assert got.repo_digests == [f"{registry.host}/team/busybox@{image.manifest_digest}"]
    assert fresh.content.ingests() == []

    # A second push sends nothing; a second pull downloads nothing.
    again = push(source, ref, options=_opts())
    assert sorted(again.existing) == sorted([image.config_digest, *(la["digest"] for la in image.layers)])
    assert not again.uploaded
    second = pull(fresh, ref, options=_opts())
    assert second.downloaded == 0 and not second.new

    if registry.token_server is not None:
        scopes = {s for r in registry.token_server.requests for s in r["scope"]}  # type: ignore[attr-defined]
        assert "repository:team/busybox:pull,push" in scopes
        assert "repository:team/busybox:pull" in scopes
        assert all(r["user"] == "alice" for r in registry.token_server.requests)


def test_chunked_push_and_cross_repository_mount(tmp_path: Path, source: ImageStore, busybox_rootfs: Path) -> None:
    with start_registry(tmp_path / "registry") as registry:
        ref = f"{registry.host}/team/app:v1"
        image = _image(source, busybox_rootfs, ref, extra=300_000)
        chunked = push(source, ref, options=_opts(None), chunk_size=64 * 1024)
        assert len(chunked.uploaded) == 3
        other = f"{registry.host}/other/app:v2"
        source.tag(ref, other)
        mounted = push(source, other, options=_opts(None))
        assert sorted(mounted.mounted) == sorted([image.config_digest, *(la["digest"] for la in image.layers)])
        result = pull(ImageStore(tmp_path / "fresh"), other, options=_opts(None))
        assert result.image.id == image.id


def test_wrong_or_missing_credentials_fail_clearly_and_record_nothing(
    tmp_path: Path, source: ImageStore, busybox_rootfs: Path, signing_key: SigningKey
) -> None:
    for auth in ("basic", "token"):
        with start_registry(tmp_path / f"registry-{auth}", auth=auth, users=USERS, key=signing_key) as registry:
            ref = f"{registry.host}/team/busybox:v1"
            _image(source, busybox_rootfs, ref)
            with pytest.raises(AuthenticationError) as info:
                push(source, ref, options=_opts(Credentials("alice", "wrong")))
            assert registry.host in str(info.value) or "token server" in str(info.value)
            push(source, ref, options=_opts())
            fresh = ImageStore(tmp_path / f"fresh-{auth}")
            for creds in (None, Credentials("mallory", "x")):
                with pytest.raises(AuthenticationError, match="pallet login"):
                    pull(fresh, ref, options=_opts(creds))
            assert fresh.list() == []


def test_missing_image_and_bad_reference(tmp_path: Path) -> None:
    fresh = ImageStore(tmp_path / "fresh")
    with start_registry(tmp_path / "registry") as registry:
        with pytest.raises(ImageNotFoundError) as info:
            pull(fresh, f"{registry.host}/nobody/here:v9", options=_opts(None))
        assert f"{registry.host}/nobody/here:v9" in str(info.value)
        assert "MANIFEST_UNKNOWN" in str(info.value) or "NAME_UNKNOWN" in str(info.value)
        with pytest.raises(InvalidReferenceError, match="must be lowercase"):
            pull(fresh, f"{registry.host}/Team/App", options=_opts(None))
    assert fresh.list() == []
    assert fresh.content.list() == []


def test_index_picks_the_platform(tmp_path: Path, source: ImageStore, busybox_rootfs: Path) -> None:
    with start_registry(tmp_path / "registry") as registry:
        ref = f"{registry.host}/multi/app:single"
        image = _image(source, busybox_rootfs, ref)
        push(source, ref, options=_opts(None))
        manifest = source.content.read(image.manifest_digest)
        entry = {"mediaType": image.manifest_media_type, "digest": image.manifest_digest, "size": len(manifest)}
        index = {
            "schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
            "manifests": [
                {**entry, "platform": {"os": "unknown", "architecture": "unknown"}},
                {**entry, "platform": {"os": "linux", "architecture": "arm64", "variant": "v8"}},
                {**entry, "platform": {"os": "linux", "architecture": "amd64"}},
            ],
        }
        data = json.dumps(index).encode()
        with RegistryClient(registry.host, _opts(None)) as client:
            index_digest = client.put_manifest("multi/app", "all", data, index["mediaType"])  # type: ignore[arg-type]
        fresh = ImageStore(tmp_path / "fresh")
        result = pull(fresh, f"{registry.host}/multi/app:all", options=_opts(None), platform="linux/arm64")
        assert result.manifest_digest == image.manifest_digest
        assert result.repo_digest == index_digest
        assert result.image.repo_digests == [f"{registry.host}/multi/app@{index_digest}"]
        by_digest = pull(fresh, f"{registry.host}/multi/app@{index_digest}", options=_opts(None))
        assert by_digest.image.id == image.id
        with pytest.raises(ImageNotFoundError, match=r"linux/s390x .*linux/arm64/v8, linux/amd64"):
            pull(fresh, f"{registry.host}/multi/app:all", options=_opts(None), platform="linux/s390x")
        with pytest.raises(ConfigError, match="os/arch"):
            pull(fresh, f"{registry.host}/multi/app:all", options=_opts(None), platform="amd64")


def test_secure_mode_refuses_plain_http(tmp_path: Path) -> None:
    with start_registry(tmp_path / "registry") as registry:
        client = RegistryClient(registry.host, RegistryOptions(tls_verify=True))
        with client, pytest.raises(Exception, match="cannot connect"):
            client.ping()
        # The loopback default (insecure): https is tried, then http.
        with RegistryClient(registry.host, RegistryOptions()) as client:
            client.ping()
            assert client.base == f"http://{registry.host}"


def test_plain_progress_lines(tmp_path: Path, source: ImageStore, busybox_rootfs: Path) -> None:
    import io

    with start_registry(tmp_path / "registry") as registry:
        ref = f"{registry.host}/p/app:v1"
        image = _image(source, busybox_rootfs, ref)
        out = io.StringIO()
        push(source, ref, options=_opts(None), progress=PlainProgress(out))
        short = image.layers[0]["digest"][7:19]
        assert f"{short}: Pushed" in out.getvalue()
        assert f"v1: digest: {image.manifest_digest}" in out.getvalue()
        out = io.StringIO()
        pull(ImageStore(tmp_path / "fresh"), ref, options=_opts(None), progress=PlainProgress(out))
        lines = out.getvalue().splitlines()
        assert f"{short}: Pulling fs layer" in lines and f"{short}: Download complete" in lines
        assert f"Digest: {image.manifest_digest}" in lines
        assert image.config_digest[7:19] not in out.getvalue()
