"""Image archives: docker-archive (``docker save``) and OCI image layouts, as tars or directories.

``save`` writes one layout that both kinds of reader understand, as docker 25 does: ``oci-layout``,
``index.json`` and ``blobs/sha256/<hex>`` (an OCI image layout) plus ``manifest.json`` and
``repositories`` (docker-archive) pointing at the same blobs.  Blobs are written as stored (layers
keep their compression).

``load`` reads a docker-archive (``manifest.json``: legacy ``<id>/layer.tar`` paths or blob paths)
or an OCI layout (``index.json``; an index inside is resolved to its linux entry for this machine),
from a tar (plain or compressed) or a directory.  Every blob is verified on its way into the content
store (a blob path names its digest; a config must hash to the diffIDs' image; layers are checked
against the config's diffIDs when unpacked), and the image is recorded only when all its blobs are
in: a corrupt archive leaves no half image behind.
"""

from __future__ import annotations

import json
import os

from pallet.errors import ConfigError, NotFoundError, PalletError
from pallet.image.content import DigestMismatch, parse_digest, sha256_digest
from pallet.image.store import (
    INDEX_TYPES,
    MANIFEST_TYPES,
    MEDIA_OCI_CONFIG,
    MEDIA_OCI_INDEX,
    MEDIA_OCI_LAYER,
    MEDIA_OCI_LAYER_GZIP,
    MEDIA_OCI_LAYER_ZSTD,
    MEDIA_OCI_MANIFEST,
    canonical_json,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    import tarfile
    from typing import Any, BinaryIO

    from pallet.image.content import BlobWriter
    from pallet.image.snapshot.base import Snapshotter
    from pallet.image.store import Image, ImageStore


class ArchiveError(PalletError):
    """An archive that cannot be read: the message names the archive and what is wrong in it."""


# -- reading an archive: the same interface over a tar and a directory ---------------------------


class _Source:
    def __init__(self, where: str) -> None:
        self.where = where

    def has(self, name: str) -> bool:
        raise NotImplementedError

    def open(self, name: str) -> BinaryIO:
        raise NotImplementedError

    def read(self, name: str, limit: int = 64 << 20) -> bytes:
        with self.open(name) as f:
            data = f.read(limit + 1)
        if len(data) > limit:
            raise ArchiveError(f"archive {self.where}: {name} is larger than {limit} bytes")
        return data

    def close(self) -> None:
        pass


class _DirSource(_Source):
    def __init__(self, path: str) -> None:
        super().__init__(path)
        self.root = os.path.realpath(path)

    def _path(self, name: str) -> str:
        parts = [p for p in name.split("/") if p not in ("", ".")]
        if name.startswith("/") or ".." in parts:
            raise ArchiveError(f"archive {self.where}: path {name!r} leaves the archive")
        full = os.path.realpath(os.path.join(self.root, *parts))
        if os.path.commonpath([full, self.root]) != self.root:
            raise ArchiveError(f"archive {self.where}: path {name!r} leads outside the archive through a symlink")
        return full

    def has(self, name: str) -> bool:
        return os.path.isfile(self._path(name))

    def open(self, name: str) -> BinaryIO:
        try:
            return open(self._path(name), "rb")
        except FileNotFoundError:
            raise ArchiveError(f"archive {self.where}: {name} is missing") from None


class _TarSource(_Source):
    def __init__(self, path: str, fileobj: BinaryIO | None = None) -> None:
        import tarfile

        super().__init__(path)
        try:
            self.tf = tarfile.open(path if fileobj is None else None, mode="r:*", fileobj=fileobj)
            self.members = {_strip_dot(m.name): m for m in self.tf.getmembers()}
        except (tarfile.TarError, EOFError, OSError) as e:
            raise ArchiveError(f"archive {path} is not a readable tar archive: {e}") from None

    def _member(self, name: str) -> tarfile.TarInfo:
        name = _strip_dot(name)
        m = self.members.get(name)
        hops = 0
        while m is not None and (m.issym() or m.islnk()) and hops < 8:
            # docker-archive layers may be links to a shared layer.tar
            target = m.linkname if m.islnk() else os.path.normpath(os.path.join(os.path.dirname(name), m.linkname))
            m = self.members.get(target)
            hops += 1
        if m is None or not m.isreg():
            raise ArchiveError(f"archive {self.where}: {name} is missing (or not a file)")
        return m

    def has(self, name: str) -> bool:
        try:
            self._member(name)
        except ArchiveError:
            return False
        return True

    def open(self, name: str) -> BinaryIO:
        f = self.tf.extractfile(self._member(name))
        assert f is not None
        return f  # type: ignore[return-value]

    def close(self) -> None:
        self.tf.close()


def _strip_dot(name: str) -> str:
    while name.startswith("./"):
        name = name[2:]
    return name


def _open_source(path: str) -> _Source:
    if os.path.isdir(path):
        return _DirSource(path)
    if not os.path.exists(path):
        raise NotFoundError(f"archive {path} does not exist")
    return _TarSource(path)


# -- load -------------------------------------------------------------------------------------------


def load(images: ImageStore, path: str, *, stdin: BinaryIO | None = None,
         snapshotter: Snapshotter | None = None) -> list[Image]:
    """Load every image of the archive at ``path`` (a tar or a directory; ``-`` with ``stdin``).

    With ``snapshotter``, a layer whose snapshot is missing is unpacked while it is stored (one
    read of the archive); ``unpack`` has nothing left to do afterwards.
    """
    if path == "-" and stdin is not None:
        import tempfile

        # A stream cannot be read out of order: spool it (docker does the same).
        with tempfile.TemporaryFile(dir=images.content.ingest_dir) as tmp:
            while chunk := stdin.read(1 << 20):
                tmp.write(chunk)
            tmp.seek(0)
            src: _Source = _TarSource("(stdin)", tmp)
            try:
                return _load(images, src, snapshotter)
            finally:
                src.close()
    src = _open_source(path)
    try:
        return _load(images, src, snapshotter)
    finally:
        src.close()


def _load(images: ImageStore, src: _Source, snapshotter: Snapshotter | None) -> list[Image]:
    if src.has("manifest.json"):
        return _load_docker(images, src, snapshotter)
    if src.has("index.json"):
        return _load_oci(images, src, snapshotter)
    raise ArchiveError(f"archive {src.where} has neither manifest.json (docker-archive) "
                       f"nor index.json (OCI layout)")


def _json(src: _Source, name: str) -> Any:
    try:
        return json.loads(src.read(name))
    except ValueError as e:
        raise ArchiveError(f"archive {src.where}: {name} is not valid JSON: {e}") from None


def _normal_ref(name: str, where: str) -> str:
    from pallet.image.reference import parse

    return str(parse(name, source=where))


def _ingest_blob(images: ImageStore, src: _Source, name: str, digest: str | None, size: int | None) -> tuple[str, int]:
    """Copy the file ``name`` into the content store (verified against ``digest`` when known)."""
    content = images.content
    if digest is not None and content.has(digest):
        return digest, content.size(digest)
    try:
        if digest is not None:
            with src.open(name) as f:
                content.ingest(f, digest, size)
            return digest, content.size(digest)
        from pallet.image.newimage import store_tar_layer  # digest unknown: hashed while spooled

        with src.open(name) as f:
            return store_tar_layer(content, f)
    except (OSError, EOFError) as e:
        raise ArchiveError(f"archive {src.where}: reading {name} failed: {e}") from None
    except PalletError as e:
        raise ArchiveError(f"archive {src.where}: {name}: {e}") from None


class _Tee:
    """A stream that hands what is read from it to a blob writer as well: a layer stored and applied
    in one pass.  Read by one thread at a time (the layer reader's, or the gzip feeder's)."""

    def __init__(self, inner: BinaryIO, writer: BlobWriter) -> None:
        self.inner = inner
        self.writer = writer

    def read(self, n: int = -1) -> bytes:
        data = self.inner.read(n)
        if data:
            self.writer.write(data)
        return data

    def readable(self) -> bool:
        return True

    def close(self) -> None:
        pass

    def finish(self) -> None:
        """Store the rest (what follows the layer's tar, if anything) and put the blob in place."""
        while self.read(1 << 20):
            pass
        self.writer.commit()


def _ingest_layer(images: ImageStore, src: _Source, name: str, digest: str | None, size: int | None,
                  diff_ids: list[str] | None, i: int, snapshotter: Snapshotter | None) -> tuple[str, int]:
    """Layer ``i``'s blob into the content store; applied at the same time when its snapshot is
    missing (and its parent's is there).  A layer whose digest the archive does not say (legacy
    ``<id>/layer.tar``) is applied so only when it is not compressed: its digest is its diffID."""
    from pallet.image.compression import Prefixed
    from pallet.image.layers import compression_of
    from pallet.image.store import chain_ids
    from pallet.image.unpack import unpack_layer

    content = images.content
    if snapshotter is None or diff_ids is None or i >= len(diff_ids):
        return _ingest_blob(images, src, name, digest, size)
    chain = chain_ids(diff_ids)
    if snapshotter.exists(chain[i]) or (i and not snapshotter.exists(chain[i - 1])) \
            or (digest is not None and content.has(digest)):
        return _ingest_blob(images, src, name, digest, size)  # unpack applies it from the store if needed
    try:
        with src.open(name) as f:
            head = f.read(6)
            if digest is None:
                if compression_of(head) != "none":
                    return _ingest_blob(images, src, name, digest, size)
                digest = diff_ids[i]
            writer = content.writer(digest, size)
            if writer is None:  # stored meanwhile by another process
                return _ingest_blob(images, src, name, digest, size)
            with writer:
                tee = _Tee(Prefixed(head, f), writer)  # type: ignore[arg-type]
                unpack_layer(snapshotter, chain, i, tee, digest, diff_ids[i], check=tee.finish)  # type: ignore[arg-type]
        return digest, content.size(digest)
    except (OSError, EOFError) as e:
        raise ArchiveError(f"archive {src.where}: reading {name} failed: {e}") from None
    except DigestMismatch as e:
        raise ArchiveError(f"archive {src.where}: {name}: {e}") from None


def _config_diff_ids(config_bytes: bytes) -> list[str] | None:
    try:
        diff_ids = json.loads(config_bytes)["rootfs"]["diff_ids"]
    except (ValueError, KeyError, TypeError):
        return None
    if not isinstance(diff_ids, list) or not all(isinstance(d, str) and d.startswith("sha256:") for d in diff_ids):
        return None
    return diff_ids


def _layer_media_type(images: ImageStore, digest: str) -> str:
    from pallet.image.layers import compression_of

    with images.content.open_blob(digest) as f:
        kind = compression_of(f.read(6))
    return {"gzip": MEDIA_OCI_LAYER_GZIP, "zstd": MEDIA_OCI_LAYER_ZSTD}.get(kind, MEDIA_OCI_LAYER)


def _blob_name_digest(name: str) -> str | None:
    parts = _strip_dot(name).split("/")
    if len(parts) == 3 and parts[0] == "blobs" and parts[1] == "sha256":
        return "sha256:" + parts[2]
    return None


def _load_docker(images: ImageStore, src: _Source, snapshotter: Snapshotter | None) -> list[Image]:
    doc = _json(src, "manifest.json")
    if not isinstance(doc, list) or not doc:
        raise ArchiveError(f"archive {src.where}: manifest.json is not a non-empty list of images")
    loaded = []
    for i, entry in enumerate(doc):
        where = f"archive {src.where} manifest.json[{i}]"
        if not isinstance(entry, dict) or not isinstance(entry.get("Config"), str) \
                or not isinstance(entry.get("Layers"), list):
            raise ArchiveError(f"{where}: needs Config (a path) and Layers (a list of paths)")
        config_bytes = src.read(entry["Config"])
        expected = _blob_name_digest(entry["Config"])
        if expected is None:
            stem = os.path.basename(entry["Config"]).removesuffix(".json")
            expected = "sha256:" + stem if len(stem) == 64 else None
        if expected is not None and sha256_digest(config_bytes) != expected:
            raise ArchiveError(f"{where}: config {entry['Config']} does not hash to {expected}")
        try:
            config = json.loads(config_bytes)
            diff_ids = config["rootfs"]["diff_ids"]
        except (ValueError, KeyError, TypeError):
            raise ArchiveError(f"{where}: config {entry['Config']} is not an image config with rootfs.diff_ids") from None
        if len(diff_ids) != len(entry["Layers"]):
            raise ArchiveError(f"{where}: {len(entry['Layers'])} layers but {len(diff_ids)} diff_ids in the config")
        descriptors = []
        for i, layer_name in enumerate(entry["Layers"]):
            digest, size = _ingest_layer(images, src, layer_name, _blob_name_digest(layer_name), None,
                                         _config_diff_ids(config_bytes), i, snapshotter)
            descriptors.append({"mediaType": _layer_media_type(images, digest), "digest": digest, "size": size})
        config_digest = images.content.add_bytes(config_bytes)
        manifest = {
            "schemaVersion": 2, "mediaType": MEDIA_OCI_MANIFEST,
            "config": {"mediaType": MEDIA_OCI_CONFIG, "digest": config_digest, "size": len(config_bytes)},
            "layers": descriptors,
        }
        refs = [_normal_ref(t, f"{where}.RepoTags") for t in entry.get("RepoTags") or []]
        loaded.append(images.add_image(canonical_json(manifest), config_bytes, refs))
    return loaded


def _load_oci(images: ImageStore, src: _Source, snapshotter: Snapshotter | None) -> list[Image]:
    index = _json(src, "index.json")
    manifests = index.get("manifests") if isinstance(index, dict) else None
    if not isinstance(manifests, list) or not manifests:
        raise ArchiveError(f"archive {src.where}: index.json has no manifests")
    loaded = []
    for i, desc in enumerate(manifests):
        where = f"archive {src.where} index.json manifests[{i}]"
        annotations = desc.get("annotations") or {}
        name = annotations.get("io.containerd.image.name") or ""
        tag = annotations.get("org.opencontainers.image.ref.name") or ""
        refs = []
        if name:
            refs.append(_normal_ref(name, f"{where} annotation io.containerd.image.name"))
        elif tag and ("/" in tag or ":" in tag):
            refs.append(_normal_ref(tag, f"{where} annotation org.opencontainers.image.ref.name"))
        manifest_bytes, media_type = _resolve_manifest(src, desc, where)
        manifest = json.loads(manifest_bytes)
        cdesc = manifest.get("config") or {}
        _ingest_blob(images, src, _blob_path(cdesc, where), cdesc.get("digest"), cdesc.get("size"))
        config_bytes = images.content.read(cdesc["digest"])
        diff_ids = _config_diff_ids(config_bytes)
        layers = manifest.get("layers") or []
        for i, layer in enumerate(layers):
            _ingest_layer(images, src, _blob_path(layer, where), layer.get("digest"), layer.get("size"),
                          diff_ids if diff_ids is not None and len(diff_ids) == len(layers) else None, i, snapshotter)
        loaded.append(images.add_image(manifest_bytes, config_bytes, refs, manifest_media_type=media_type))
    return loaded


def _blob_path(desc: dict[str, Any], where: str) -> str:
    digest = desc.get("digest") if isinstance(desc, dict) else None
    if not isinstance(digest, str):
        raise ArchiveError(f"{where}: a descriptor has no digest")
    try:
        return "blobs/sha256/" + parse_digest(digest, f"{where} descriptor digest")
    except ConfigError as e:
        raise ArchiveError(str(e)) from None


def _resolve_manifest(src: _Source, desc: dict[str, Any], where: str) -> tuple[bytes, str]:
    from pallet.image.newimage import goarch

    for _ in range(4):
        path = _blob_path(desc, where)
        data = src.read(path)
        if sha256_digest(data) != desc["digest"]:
            raise ArchiveError(f"{where}: {path} does not hash to {desc['digest']}")
        try:
            doc = json.loads(data)
        except ValueError as e:
            raise ArchiveError(f"{where}: {path} is not valid JSON: {e}") from None
        media_type = doc.get("mediaType") or desc.get("mediaType") or MEDIA_OCI_MANIFEST
        if media_type in MANIFEST_TYPES:
            return data, media_type
        if media_type not in INDEX_TYPES:
            raise ArchiveError(f"{where}: {path} has media type {media_type!r}, not a manifest or an index")
        arch = goarch()
        for entry in doc.get("manifests") or []:
            p = entry.get("platform") or {}
            if p.get("os") == "linux" and p.get("architecture") == arch:
                desc = entry
                break
        else:
            raise ArchiveError(f"{where}: the index {path} has no entry for linux/{arch}")
    raise ArchiveError(f"{where}: indexes nested too deep")


# -- save -------------------------------------------------------------------------------------------


class _Sink:
    def add_bytes(self, name: str, data: bytes) -> None:
        raise NotImplementedError

    def add_file(self, name: str, path: str) -> None:
        raise NotImplementedError

    def close(self) -> None:
        pass


class _TarSink(_Sink):
    def __init__(self, out: BinaryIO) -> None:
        import tarfile

        self.tf = tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT)
        self.dirs: set[str] = set()

    def _dirs(self, name: str) -> None:
        import tarfile

        parts = name.split("/")[:-1]
        for i in range(1, len(parts) + 1):
            d = "/".join(parts[:i])
            if d not in self.dirs:
                self.dirs.add(d)
                ti = tarfile.TarInfo(d)
                ti.type, ti.mode = tarfile.DIRTYPE, 0o755
                self.tf.addfile(ti)

    def add_bytes(self, name: str, data: bytes) -> None:
        import io
        import tarfile

        self._dirs(name)
        ti = tarfile.TarInfo(name)
        ti.size, ti.mode = len(data), 0o644
        self.tf.addfile(ti, io.BytesIO(data))

    def add_file(self, name: str, path: str) -> None:
        import tarfile

        self._dirs(name)
        with open(path, "rb") as f:
            ti = tarfile.TarInfo(name)
            ti.size, ti.mode = os.fstat(f.fileno()).st_size, 0o644
            self.tf.addfile(ti, f)

    def close(self) -> None:
        self.tf.close()


class _DirSink(_Sink):
    def __init__(self, path: str) -> None:
        os.makedirs(path, exist_ok=True)
        self.root = path

    def add_bytes(self, name: str, data: bytes) -> None:
        p = os.path.join(self.root, name)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, "wb") as f:
            f.write(data)

    def add_file(self, name: str, path: str) -> None:
        import shutil

        p = os.path.join(self.root, name)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        try:
            os.link(path, p)
        except OSError:
            shutil.copyfile(path, p)


def save(images: ImageStore, names: list[str], out: BinaryIO | str, *, resolve: Any = None) -> list[Image]:
    """Write the images ``names`` (references as stored, or ids) to ``out``: a binary stream (tar)
    or a directory path; returns the images.  ``resolve`` maps a user's name to a stored reference."""
    chosen: list[tuple[Image, list[str]]] = []
    for n in names:
        ref = resolve(n) if resolve is not None else n
        img = images.get(ref)
        tags = [ref] if ref in img.repo_tags else ([] if _is_id(n, img) else list(img.repo_tags))
        for prev, prev_tags in chosen:
            if prev.id == img.id:
                prev_tags.extend(t for t in tags if t not in prev_tags)
                break
        else:
            chosen.append((img, tags))
    sink: _Sink = _DirSink(out) if isinstance(out, str) else _TarSink(out)
    written: set[str] = set()
    docker_manifest = []
    repositories: dict[str, dict[str, str]] = {}
    index_manifests = []
    try:
        sink.add_bytes("oci-layout", b'{"imageLayoutVersion":"1.0.0"}')
        for img, tags in chosen:
            blobs = [img.config_digest, img.manifest_digest] + [layer["digest"] for layer in img.layers]
            for d in blobs:
                if d not in written:
                    sink.add_file(f"blobs/sha256/{d[7:]}", images.content.path(d))
                    written.add(d)
            docker_manifest.append({
                "Config": f"blobs/sha256/{img.config_digest[7:]}",
                "RepoTags": [_familiar(t) for t in tags],
                "Layers": [f"blobs/sha256/{layer['digest'][7:]}" for layer in img.layers],
            })
            for t in tags:
                repo, _, tag = _familiar(t).rpartition(":")
                if img.layers:
                    repositories.setdefault(repo, {})[tag] = img.layers[-1]["digest"][7:]
            base = {"mediaType": img.manifest_media_type, "digest": img.manifest_digest,
                    "size": images.content.size(img.manifest_digest)}
            if not tags:
                index_manifests.append(base)
            for t in tags:
                index_manifests.append({**base, "annotations": {
                    "io.containerd.image.name": t, "org.opencontainers.image.ref.name": t.rpartition(":")[2]}})
        sink.add_bytes("index.json", canonical_json(
            {"schemaVersion": 2, "mediaType": MEDIA_OCI_INDEX, "manifests": index_manifests}))
        sink.add_bytes("manifest.json", json.dumps(docker_manifest).encode())
        if repositories:
            sink.add_bytes("repositories", json.dumps(repositories).encode())
    finally:
        sink.close()
    return [img for img, _ in chosen]


def _is_id(name: str, img: Image) -> bool:
    hexpart = name[7:] if name.startswith("sha256:") else name
    return bool(hexpart) and img.id[7:].startswith(hexpart)


def _familiar(ref: str) -> str:
    from pallet.image.reference import parse

    return parse(ref).familiar()
