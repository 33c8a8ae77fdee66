"""The image store: which images exist, their manifests, configs, layers and references.

``<root>/images.json`` holds one record per image, keyed by image id (the digest of its config, as
docker's); it is rewritten atomically (temporary file, fsync, rename) under an exclusive flock on
``<root>/images.lock``.  Manifests and configs themselves are blobs in the content store.

References are taken already normalised (``docker.io/library/busybox:latest``, or a digest reference
``docker.io/library/busybox@sha256:...``): normalising what a user typed is reference.py's job.  A
name:tag points at exactly one image; tagging it elsewhere moves it, and an image that loses its last
reference stays as a dangling image (``<none>:<none>``) until it is removed.

Lookup (``get``) accepts a reference, a full id (``sha256:<hex>`` or ``<hex>``), a unique id prefix,
or a digest reference ``name@sha256:...``.
"""

from __future__ import annotations

import os
import time

from pallet import fastjson
from pallet.errors import ConfigError, ConflictError, NotFoundError
from pallet.image.content import ContentStore, parse_digest

TYPE_CHECKING = False
if TYPE_CHECKING:
    import builtins
    from collections.abc import Callable, Iterator
    from typing import Any

MEDIA_OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MEDIA_OCI_INDEX = "application/vnd.oci.image.index.v1+json"
MEDIA_OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
MEDIA_OCI_LAYER = "application/vnd.oci.image.layer.v1.tar"
MEDIA_OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
MEDIA_OCI_LAYER_ZSTD = "application/vnd.oci.image.layer.v1.tar+zstd"
MEDIA_DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
MEDIA_DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
MEDIA_DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
MEDIA_DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar.gzip"
MANIFEST_TYPES = (MEDIA_OCI_MANIFEST, MEDIA_DOCKER_MANIFEST)
INDEX_TYPES = (MEDIA_OCI_INDEX, MEDIA_DOCKER_LIST)


class Image:
    """One image record.  ``layers`` are the manifest's layer descriptors, each with its ``diff_id``."""

    __slots__ = ("added", "config_digest", "created", "id", "layers", "manifest_digest",
                 "manifest_media_type", "repo_digests", "repo_tags")

    def __init__(self, record: dict[str, Any]) -> None:
        self.id: str = record["id"]
        self.manifest_digest: str = record["manifest_digest"]
        self.manifest_media_type: str = record.get("manifest_media_type", MEDIA_OCI_MANIFEST)
        self.config_digest: str = record["config_digest"]
        self.layers: list[dict[str, Any]] = record.get("layers", [])
        self.repo_tags: list[str] = record.get("repo_tags", [])
        self.repo_digests: list[str] = record.get("repo_digests", [])
        self.created: str = record.get("created", "")
        self.added: float = record.get("added", 0.0)

    def to_record(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__slots__}

    @property
    def diff_ids(self) -> builtins.list[str]:
        return [layer["diff_id"] for layer in self.layers]

    @property
    def chain_id(self) -> str | None:
        """The chain id of the top layer (the snapshot a container's layer sits on); None if no layers."""
        chain = chain_ids(self.diff_ids)
        return chain[-1] if chain else None

    @property
    def compressed_size(self) -> int:
        return sum(int(layer.get("size", 0)) for layer in self.layers)

    @property
    def short_id(self) -> str:
        return self.id.split(":", 1)[-1][:12]

    def __repr__(self) -> str:
        return f"Image({self.short_id}, tags={self.repo_tags})"


def chain_ids(diff_ids: list[str]) -> list[str]:
    """The OCI chain ids of a list of diff ids: ChainID(n) = sha256(ChainID(n-1) + " " + DiffID(n))."""
    out: list[str] = []
    for diff_id in diff_ids:
        if not out:
            out.append(diff_id)
        else:
            import hashlib  # here: a one-layer image needs no hash (hashlib costs ~4 ms to import)

            out.append("sha256:" + hashlib.sha256(f"{out[-1]} {diff_id}".encode()).hexdigest())
    return out


def canonical_json(doc: Any) -> bytes:
    return fastjson.dumps(doc, sort_keys=True).encode()


def _loads(data: bytes | str) -> Any:
    """JSON through pallet.fastjson (the json package imports re: ~5 ms of every `pallet run`)."""
    return fastjson.loads(data)


class ImageStore:
    """Image records under ``root`` (the store's /var/lib/pallet), with their content store."""

    def __init__(self, root: str | os.PathLike[str], content: ContentStore | None = None) -> None:
        self.root = os.fspath(root)
        os.makedirs(self.root, mode=0o700, exist_ok=True)
        self.content = content or ContentStore(self.root)
        self._db = os.path.join(self.root, "images.json")
        self._lock_path = os.path.join(self.root, "images.lock")

    # -- reading -------------------------------------------------------------------------------

    def list(self) -> builtins.list[Image]:
        """Every image, newest first."""
        images = [Image(r) for r in self._load().values()]
        images.sort(key=lambda i: (i.created, i.added), reverse=True)
        return images

    def get(self, ref_or_id: str) -> Image:
        """The image named by a reference, a digest reference, a full id or a unique id prefix."""
        images = self._load()
        found = _find(images, ref_or_id)
        if found is None:
            raise NotFoundError(f"No such image: {ref_or_id}")
        return Image(found)

    def exists(self, ref_or_id: str) -> bool:
        return _find(self._load(), ref_or_id) is not None

    def manifest(self, image: Image) -> dict[str, Any]:
        doc: dict[str, Any] = _loads(self.content.read(image.manifest_digest))
        return doc

    def config(self, image: Image) -> dict[str, Any]:
        doc: dict[str, Any] = _loads(self.content.read(image.config_digest))
        return doc

    # -- writing -------------------------------------------------------------------------------

    def add_image(
        self,
        manifest: bytes | dict[str, Any],
        config: bytes | dict[str, Any],
        refs: builtins.list[str] | tuple[str, ...] = (),
        *,
        manifest_media_type: str | None = None,
    ) -> Image:
        """Record an image from its manifest and config (bytes as received, or dicts we made).

        Both are stored as blobs; every layer blob the manifest names must already be in the
        content store.  ``refs`` are normalised references: ``name:tag`` moves that tag here,
        ``name@sha256:...`` adds a repo digest.  Adding an image that exists merges its references.
        """
        manifest_bytes = manifest if isinstance(manifest, bytes) else canonical_json(manifest)
        config_bytes = config if isinstance(config, bytes) else canonical_json(config)
        try:
            mdoc = _loads(manifest_bytes)
            cdoc = _loads(config_bytes)
        except ValueError as e:
            raise ConfigError(f"image manifest or config is not valid JSON: {e}") from None
        media_type = manifest_media_type or mdoc.get("mediaType") or MEDIA_OCI_MANIFEST
        if media_type not in MANIFEST_TYPES:
            raise ConfigError(f"manifest media type {media_type!r} is not an image manifest "
                              f"(allowed: {', '.join(MANIFEST_TYPES)})")
        descriptors = mdoc.get("layers")
        diff_ids = (cdoc.get("rootfs") or {}).get("diff_ids")
        if not isinstance(descriptors, list) or not isinstance(diff_ids, list) or len(descriptors) != len(diff_ids):
            raise ConfigError(
                f"image manifest has {len(descriptors) if isinstance(descriptors, list) else 'no'} layers but its "
                f"config has {len(diff_ids) if isinstance(diff_ids, list) else 'no'} rootfs.diff_ids: they must match"
            )
        layers = []
        for i, (desc, diff_id) in enumerate(zip(descriptors, diff_ids, strict=True)):
            digest = desc.get("digest", "") if isinstance(desc, dict) else ""
            parse_digest(digest, f"manifest layers[{i}].digest")
            parse_digest(diff_id, f"config rootfs.diff_ids[{i}]")
            layers.append({
                "digest": digest, "diff_id": diff_id, "size": int(desc.get("size", 0)),
                "media_type": desc.get("mediaType", MEDIA_OCI_LAYER_GZIP),
            })
        config_digest = self.content.add_bytes(config_bytes)
        manifest_digest = self.content.add_bytes(manifest_bytes)
        for r in refs:
            _check_ref(r)
        with self._locked() as images:
            record = images.get(config_digest) or {
                "id": config_digest, "config_digest": config_digest, "repo_tags": [], "repo_digests": [],
                "created": str(cdoc.get("created", "")), "added": time.time(),
            }
            record.update({"manifest_digest": manifest_digest, "manifest_media_type": media_type, "layers": layers})
            images[config_digest] = record
            for r in refs:
                _attach(images, record, r)
            return Image(record)

    def tag(self, ref_or_id: str, new_ref: str) -> Image:
        """Point ``new_ref`` (a normalised name:tag) at the image ``ref_or_id``."""
        _check_ref(new_ref)
        if "@" in new_ref:
            raise ConfigError(f"cannot tag with a digest reference {new_ref!r}: give name:tag")
        with self._locked() as images:
            record = _find(images, ref_or_id)
            if record is None:
                raise NotFoundError(f"No such image: {ref_or_id}")
            _attach(images, record, new_ref)
            return Image(record)

    def untag(self, ref: str) -> Image:
        """Remove the reference ``ref`` (name:tag or name@digest); returns the image it pointed at."""
        with self._locked() as images:
            for record in images.values():
                for key in ("repo_tags", "repo_digests"):
                    if ref in record[key]:
                        record[key].remove(ref)
                        return Image(record)
        raise NotFoundError(f"No such image: {ref} (not a tag or digest reference of any image)")

    def remove(self, image_id: str) -> Image:
        """Forget the image record ``image_id`` (its blobs and snapshots are collected separately)."""
        with self._locked() as images:
            record = images.pop(image_id, None)
            if record is None:
                raise NotFoundError(f"No such image: {image_id}")
            return Image(record)

    def update(self, images: Callable[[dict[str, dict[str, Any]]], None]) -> None:
        """Run ``images(records)`` under the lock and save what it changed (for callers' bookkeeping)."""
        with self._locked() as records:
            images(records)

    def referenced_blobs(self) -> set[str]:
        """Every blob digest some image still needs (manifests, configs, layers)."""
        out: set[str] = set()
        for record in self._load().values():
            out.add(record["manifest_digest"])
            out.add(record["config_digest"])
            out.update(layer["digest"] for layer in record.get("layers", []))
        return out

    # -- the file ------------------------------------------------------------------------------

    def _load(self) -> dict[str, dict[str, Any]]:
        try:
            with open(self._db, "rb") as f:
                data = f.read()
        except FileNotFoundError:
            return {}
        try:
            doc = _loads(data)
        except ValueError as e:
            raise ConfigError(f"image store {self._db} is corrupt: {e}") from None
        images: dict[str, dict[str, Any]] = doc.get("images", {})
        return images

    def _save(self, images: dict[str, dict[str, Any]]) -> None:
        from pallet.atomicfile import write_atomic

        write_atomic(self._db, fastjson.dumps({"images": images}, indent=1, sort_keys=True), durable=True)

    def _locked(self) -> _Locked:
        return _Locked(self)


class _Locked:
    """``with store._locked() as images``: the records under an exclusive lock, saved on success."""

    def __init__(self, store: ImageStore) -> None:
        self.store = store
        self.fd = -1
        self.images: dict[str, dict[str, Any]] = {}

    def __enter__(self) -> dict[str, dict[str, Any]]:
        from pallet.filelock import lock_file

        self.fd = lock_file(self.store._lock_path)
        self.images = self.store._load()
        return self.images

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        from pallet.filelock import unlock_file

        try:
            if exc_type is None:
                self.store._save(self.images)
        finally:
            unlock_file(self.fd)


def _check_ref(ref: str) -> None:
    if not ref or any(c.isspace() for c in ref) or ("@" not in ref and ":" not in ref.rsplit("/", 1)[-1]):
        raise ConfigError(f"image reference {ref!r} is not a normalised name:tag or name@digest")
    if "@" in ref:
        parse_digest(ref.split("@", 1)[1], f"image reference {ref!r}")


def _attach(images: dict[str, dict[str, Any]], record: dict[str, Any], ref: str) -> None:
    key = "repo_digests" if "@" in ref else "repo_tags"
    if key == "repo_tags":
        for other in images.values():
            if other is not record and ref in other["repo_tags"]:
                other["repo_tags"].remove(ref)
    if ref not in record[key]:
        record[key].append(ref)


def _find(images: dict[str, dict[str, Any]], ref_or_id: str) -> dict[str, Any] | None:
    if not ref_or_id:
        return None
    for record in images.values():
        if ref_or_id in record["repo_tags"] or ref_or_id in record["repo_digests"]:
            return record
    if "@" in ref_or_id:
        # name@digest: the manifest digest of an image of that name
        name, _, digest = ref_or_id.partition("@")
        for record in images.values():
            if record["manifest_digest"] == digest and any(
                t.rsplit(":", 1)[0] == name for t in record["repo_tags"] + record["repo_digests"]
            ):
                return record
        return None
    hexpart = ref_or_id[7:] if ref_or_id.startswith("sha256:") else ref_or_id
    if not hexpart or any(c not in "0123456789abcdef" for c in hexpart):
        return None
    matches = [r for r in images.values() if r["id"][7:].startswith(hexpart)]
    if len(matches) > 1:
        raise ConflictError(f"image id prefix {ref_or_id!r} is ambiguous: it matches {len(matches)} images")
    return matches[0] if matches else None


def iter_tags(images: list[Image]) -> Iterator[tuple[Image, str]]:
    """(image, tag) for every tag; a dangling image once with the tag ``""``."""
    for image in images:
        if image.repo_tags:
            for t in image.repo_tags:
                yield image, t
        else:
            yield image, ""
