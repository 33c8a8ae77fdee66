"""Pull an image: manifest (or index, then the host's platform), config and layers, each verified.

Order of work, and what a failure leaves behind:

1. the manifest named by the reference (tag or digest); an index picks the platform's manifest;
2. the config and the layers are downloaded in parallel (``workers`` threads) into the content
   store, each verified against its digest and size while it streams; a blob already in the store is
   not fetched again;
3. only when every blob is in the store is the image recorded (``ImageStore.add_image``) with its
   tag and its repo digest.  So a failed pull never leaves an image record: at most finished blobs
   (reused next time) and partial ingests.

Resuming: a blob is written through a named partial ingest (``pull:<digest>``).  When a download
stops (a dropped connection, a truncated body, a killed pallet), the bytes received stay there, and
the next attempt, in this pull or the next one, asks for the rest with ``Range: bytes=<offset>-``.
A registry that ignores the Range header sends the whole blob and the partial data is discarded.
Bytes that do not hash to the digest are discarded at once and the pull fails: that is not a
transient error.  Two pulls of one blob at once take turns through a lock file per blob.
"""

from __future__ import annotations

import os
import time

from pallet.filelock import FileLock
from pallet.image.reference import Reference, digest_problem, parse
from pallet.image.registry.client import INDEX_TYPES, MANIFEST_TYPES, RegistryClient
from pallet.image.registry.errors import DigestMismatchError, ImageNotFoundError, RegistryError
from pallet.image.registry.progress import Progress

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Iterator

    from pallet.image.content import ContentStore
    from pallet.image.registry.client import Manifest, RegistryOptions
    from pallet.image.store import Image, ImageStore

DEFAULT_WORKERS = 3  # docker's max-concurrent-downloads
DEFAULT_RETRIES = 3
_ARCH = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64", "armv7l": "arm",
         "armv6l": "arm", "i386": "386", "i686": "386", "ppc64le": "ppc64le", "s390x": "s390x",
         "riscv64": "riscv64", "mips64": "mips64le"}


class PullResult:
    """What a pull did: the image, the digest the reference resolved to, bytes downloaded."""

    __slots__ = ("downloaded", "image", "manifest_digest", "new", "reference", "repo_digest")

    def __init__(self, image: Image, reference: Reference, manifest_digest: str, repo_digest: str,
                 downloaded: int, new: bool) -> None:
        self.image = image
        self.reference = reference
        self.manifest_digest = manifest_digest  # the image manifest (the platform's, for an index)
        self.repo_digest = repo_digest  # what the reference pointed at (the index, for an index)
        self.downloaded = downloaded
        self.new = new


def host_platform() -> tuple[str, str, str]:
    """(os, architecture, variant) of this host in OCI terms: ``("linux", "amd64", "")``."""
    machine = os.uname().machine
    arch = _ARCH.get(machine, machine)
    variant = {"armv7l": "v7", "armv6l": "v6", "aarch64": "v8"}.get(machine, "")
    return "linux", arch, variant


def parse_platform(value: str) -> tuple[str, str, str]:
    """``os/arch[/variant]`` as given by ``--platform``; a ValueError-free ConfigError when malformed."""
    from pallet.errors import ConfigError

    parts = value.split("/")
    if len(parts) not in (2, 3) or not all(parts):
        raise ConfigError(f"platform {value!r} is not os/arch[/variant] (for example linux/amd64 or linux/arm/v7)")
    return parts[0], _ARCH.get(parts[1], parts[1]), parts[2] if len(parts) == 3 else ""


def select_platform(index: dict[str, object], want: tuple[str, str, str], what: str) -> dict[str, object]:
    """The index entry for platform ``want``; an exact variant is preferred over any variant."""
    entries = index.get("manifests")
    if not isinstance(entries, list):
        raise RegistryError(f"{what}: the index has no \"manifests\" list")
    want_os, want_arch, want_variant = want
    candidates: list[dict[str, object]] = []
    available: list[str] = []
    for entry in entries:
        if not isinstance(entry, dict):
            continue
        plat = entry.get("platform")
        if not isinstance(plat, dict):
            continue
        p_os, p_arch, p_variant = str(plat.get("os", "")), str(plat.get("architecture", "")), str(plat.get("variant", ""))
        if p_os == "unknown":
            continue  # attestation manifests
        available.append("/".join(x for x in (p_os, p_arch, p_variant) if x))
        if p_os == want_os and p_arch == want_arch and entry.get("mediaType", MANIFEST_TYPES[0]) in MANIFEST_TYPES:
            candidates.append(entry)
    if not candidates:
        wanted = "/".join(x for x in want if x)
        raise ImageNotFoundError(
            f"{what}: no manifest for platform {wanted} (the index has: {', '.join(available) or 'none'})"
        )
    for entry in candidates:
        plat = entry["platform"]
        assert isinstance(plat, dict)
        if want_variant and plat.get("variant") == want_variant:
            return entry
    return candidates[0]


def pull(
    images: ImageStore,
    reference: Reference | str,
    *,
    options: RegistryOptions | None = None,
    platform: str | None = None,
    progress: Progress | None = None,
    workers: int = DEFAULT_WORKERS,
    retries: int = DEFAULT_RETRIES,
    unpack: Callable[[Image], None] | None = None,
) -> PullResult:
    """Pull ``reference`` into ``images`` (see the module doc); ``unpack`` runs on the recorded image."""
    ref = parse(reference, source="pull") if isinstance(reference, str) else reference
    progress = progress or Progress()
    want = parse_platform(platform) if platform else host_platform()
    client = RegistryClient(ref.domain, options)
    try:
        top = client.get_manifest(ref.path, ref.manifest_ref)
        manifest = top
        if top.is_index:
            entry = select_platform(top.json(), want, f"{ref}")
            digest = str(entry.get("digest", ""))
            if digest_problem(digest) or not digest.startswith("sha256:"):
                raise RegistryError(f"{ref}: the index entry for {'/'.join(want)} has a bad digest {digest!r}")
            manifest = client.get_manifest(ref.path, digest)
            if manifest.is_index:
                raise RegistryError(f"{ref}: the index entry for {'/'.join(want)} is another index (not supported)")
        blobs = manifest_blobs(manifest, str(ref))
        content = images.content
        before = _current_id(images, ref)
        downloaded = _fetch_all(client, content, ref.path, blobs, progress, workers, retries)
        config_digest = blobs[0][0]
        config_bytes = content.read(config_digest)
        refs = [f"{ref.name}@{top.digest}"]
        if ref.tag is not None:
            refs.insert(0, f"{ref.name}:{ref.tag}")
        image = images.add_image(manifest.data, config_bytes, refs, manifest_media_type=manifest.media_type)
        if unpack is not None:
            unpack(image)
        progress.message(f"Digest: {top.digest}")
        new = before != image.id
        progress.message(f"Status: {'Downloaded newer image' if new else 'Image is up to date'} for {ref.familiar()}")
        return PullResult(image, ref, manifest.digest, top.digest, downloaded, new)
    finally:
        client.close()


def _current_id(images: ImageStore, ref: Reference) -> str | None:
    from pallet.errors import NotFoundError

    try:
        return images.get(str(ref)).id
    except NotFoundError:
        return None


def manifest_blobs(manifest: Manifest, what: str) -> list[tuple[str, int | None]]:
    """(digest, size) of the config and every layer of an image manifest, checked."""
    doc = manifest.json()
    if manifest.media_type not in MANIFEST_TYPES:
        raise RegistryError(f"{what}: expected an image manifest, got {manifest.media_type}")
    out: list[tuple[str, int | None]] = []
    config = doc.get("config")
    layers = doc.get("layers")
    if not isinstance(config, dict):
        raise RegistryError(f"{what}: manifest {manifest.digest} has no config descriptor")
    if not isinstance(layers, list):
        raise RegistryError(f"{what}: manifest {manifest.digest} has no layers list")
    for i, desc in enumerate([config, *layers]):
        field = "config" if i == 0 else f"layers[{i - 1}]"
        if not isinstance(desc, dict):
            raise RegistryError(f"{what}: manifest {manifest.digest} {field} is not an object")
        digest = desc.get("digest")
        if not isinstance(digest, str) or not digest.startswith("sha256:") or digest_problem(digest):
            raise RegistryError(f"{what}: manifest {manifest.digest} {field}.digest {digest!r} is not a sha256 digest")
        size = desc.get("size")
        if size is not None and (not isinstance(size, int) or size < 0):
            raise RegistryError(f"{what}: manifest {manifest.digest} {field}.size {size!r} is not a byte count")
        if all(digest != d for d, _ in out):
            out.append((digest, size))
    return out


def _fetch_all(client: RegistryClient, content: ContentStore, repo: str, blobs: list[tuple[str, int | None]],
               progress: Progress, workers: int, retries: int) -> int:
    from concurrent.futures import ThreadPoolExecutor

    for digest, size in blobs[1:]:
        if content.has(digest):
            progress.status(digest, "Already exists", size)
        else:
            progress.status(digest, "Pulling fs layer", size)
    with ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="pull") as pool:
        # The config is fetched like a layer but not shown (docker shows layers only).
        futures = [pool.submit(fetch_blob, client, content, repo, d, s, progress if i else Progress(), retries)
                   for i, (d, s) in enumerate(blobs)]
        errors: list[BaseException] = []
        total = 0
        for f in futures:
            try:
                total += f.result()
            except BaseException as e:
                errors.append(e)
    if errors:
        raise errors[0]
    return total


def fetch_blob(client: RegistryClient, content: ContentStore, repo: str, digest: str, size: int | None,
               progress: Progress, retries: int = DEFAULT_RETRIES) -> int:
    """Download one blob into ``content`` (resuming a partial ingest); returns the bytes transferred."""
    if content.has(digest):
        return 0
    with _BlobLock(content, digest):
        if content.has(digest):
            return 0
        return _download(client, content, repo, digest, size, progress, retries)


def _download(client: RegistryClient, content: ContentStore, repo: str, digest: str, size: int | None,
              progress: Progress, retries: int) -> int:
    import httpx

    from pallet.image.content import DigestMismatch

    ingest_ref = f"pull:{digest}"
    where = f"blob {digest} of {client.domain}/{repo}"
    transferred = 0
    last: Exception | None = None
    for attempt in range(max(1, retries)):
        if attempt:
            time.sleep(min(0.1 * 2**attempt, 2.0))
        offset = content.ingest_offset(ingest_ref)
        if size is not None and offset >= size:
            content.abort(ingest_ref)
            offset = 0
        resp, start = client.open_blob(repo, digest, offset)
        try:
            if start != offset:
                content.abort(ingest_ref)
            progress.status(digest, "Downloading", size)
            if start:
                progress.advance(digest, start)
            counter = _Counter(resp.iter_raw(), progress, digest)
            try:
                content.ingest(counter, digest, size, ref=ingest_ref)
            except DigestMismatch as e:
                transferred += counter.n
                if size is not None and start + counter.n < size:
                    last = RegistryError(f"{where}: the download stopped after {start + counter.n} of {size} bytes")
                    continue  # truncated: the partial data stays, ask for the rest
                raise DigestMismatchError(f"{where}: {e}; the data was discarded") from None
            except httpx.HTTPError as e:
                transferred += counter.n
                last = e
                continue
            transferred += counter.n
            progress.status(digest, "Download complete", size)
            return transferred
        finally:
            resp.close()
    kept = content.ingest_offset(ingest_ref)
    raise RegistryError(
        f"{where}: download failed after {max(1, retries)} attempts: {last}"
        + (f"; the {kept} bytes received are kept and the next pull resumes from there" if kept else "")
    )


class _Counter:
    """Chunks of a response, counted and reported to the progress."""

    def __init__(self, chunks: Iterable[bytes], progress: Progress, digest: str) -> None:
        self.chunks = chunks
        self.progress = progress
        self.digest = digest
        self.n = 0

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self.chunks:
            self.n += len(chunk)
            self.progress.advance(self.digest, len(chunk))
            yield chunk


class _BlobLock(FileLock):
    """An exclusive flock per blob, so that two pulls of one blob do not write one ingest at once;
    its lock file goes once the blob is stored."""

    def __init__(self, content: ContentStore, digest: str) -> None:
        super().__init__(os.path.join(content.ingest_dir, digest.split(":", 1)[1] + ".lock"))
        self.content = content
        self.digest = digest

    def __exit__(self, *exc: object) -> None:
        if self.content.has(self.digest):
            try:
                os.unlink(self.path)
            except FileNotFoundError:
                pass
        super().__exit__(*exc)


__all__ = ["INDEX_TYPES", "PullResult", "fetch_blob", "host_platform", "manifest_blobs", "parse_platform", "pull", "select_platform"]
