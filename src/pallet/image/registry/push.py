"""Push an image: its layers and config as blobs, then its manifest under a tag.

For each blob (in parallel):

1. ``HEAD /v2/<repo>/blobs/<digest>``: the repository has it already, nothing to send;
2. a cross-repository mount, when the image also has a name in another repository of the same
   registry: ``POST /v2/<repo>/blobs/uploads/?mount=<digest>&from=<other>`` (201: mounted, no bytes
   sent; 202: the registry opened an upload session instead, which is used for step 3);
3. an upload: ``POST /v2/<repo>/blobs/uploads/`` opens a session (202 and a Location), then either
   one ``PUT <location>?digest=<digest>`` with the whole blob (monolithic, the default), or
   ``PATCH <location>`` per chunk with ``Content-Range`` (chunked, ``chunk_size`` bytes each, each
   answer giving the next Location) and a final empty ``PUT <location>?digest=<digest>``.

The registry's Docker-Content-Digest answer is checked against ours.  Finally the manifest bytes
stored locally are sent as they are (so the digest does not change) with ``PUT
/v2/<repo>/manifests/<tag>``.
"""

from __future__ import annotations

from pallet.image.reference import Reference, parse
from pallet.image.registry.client import Manifest, RegistryClient
from pallet.image.registry.errors import DigestMismatchError, RegistryError
from pallet.image.registry.progress import Progress
from pallet.image.registry.pull import manifest_blobs

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from pallet.image.content import ContentStore
    from pallet.image.registry.client import RegistryOptions
    from pallet.image.store import Image, ImageStore

DEFAULT_WORKERS = 3
READ_CHUNK = 1 << 20


class PushResult:
    """What a push did: the manifest digest and size, the blobs sent, mounted, or already there."""

    __slots__ = ("digest", "existing", "mounted", "reference", "size", "uploaded")

    def __init__(self, reference: Reference, digest: str, size: int) -> None:
        self.reference = reference
        self.digest = digest
        self.size = size
        self.uploaded: list[str] = []
        self.mounted: list[str] = []
        self.existing: list[str] = []


def push(
    images: ImageStore,
    source: str,
    destination: Reference | str | None = None,
    *,
    options: RegistryOptions | None = None,
    progress: Progress | None = None,
    workers: int = DEFAULT_WORKERS,
    chunk_size: int | None = None,
) -> PushResult:
    """Push the local image ``source`` (a reference or id) to ``destination`` (default: ``source``)."""
    dest_text = destination if destination is not None else source
    dest = parse(dest_text, source="push") if isinstance(dest_text, str) else dest_text
    if chunk_size is not None and chunk_size <= 0:
        from pallet.errors import ConfigError

        raise ConfigError(f"push chunk size {chunk_size} must be a positive number of bytes")
    progress = progress or Progress()
    image = images.get(source if isinstance(source, str) else str(source))
    content = images.content
    data = content.read(image.manifest_digest)
    manifest = Manifest(data, image.manifest_media_type, image.manifest_digest)
    blobs = manifest_blobs(manifest, str(dest))
    for digest, _size in blobs[1:] + blobs[:1]:
        if not content.has(digest):
            from pallet.errors import NotFoundError

            raise NotFoundError(
                f"cannot push {dest.familiar()}: blob {digest} of image {image.short_id} is not in the content "
                "store (the image was not pulled or built completely)"
            )
    mount_from = _mount_sources(image, dest)
    result = PushResult(dest, image.manifest_digest, len(data))
    client = RegistryClient(dest.domain, options)
    try:
        from concurrent.futures import ThreadPoolExecutor

        # Layers first, config last (docker's order); each blob in its own thread.
        ordered = blobs[1:] + blobs[:1]
        for digest, size in blobs[1:]:
            progress.status(digest, "Preparing", size)
        with ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="push") as pool:
            futures = [pool.submit(upload_blob, client, content, dest.path, d, s, mount_from,
                                   progress if d != blobs[0][0] else Progress(), chunk_size)
                       for d, s in ordered]
            errors: list[BaseException] = []
            for (digest, _), f in zip(ordered, futures, strict=True):
                try:
                    how = f.result()
                except BaseException as e:
                    errors.append(e)
                    continue
                {"uploaded": result.uploaded, "mounted": result.mounted, "existing": result.existing}[how].append(digest)
        if errors:
            raise errors[0]
        target = dest.tag or dest.digest or "latest"
        if dest.digest and dest.digest != image.manifest_digest:
            raise DigestMismatchError(
                f"cannot push {dest}: the image's manifest digest is {image.manifest_digest}, not {dest.digest}"
            )
        client.put_manifest(dest.path, target, data, image.manifest_media_type)
        progress.message(f"{target}: digest: {image.manifest_digest} size: {len(data)}")
        return result
    finally:
        client.close()


def _mount_sources(image: Image, dest: Reference) -> list[str]:
    """Other repositories of the destination's registry that this image also has a name in."""
    out: list[str] = []
    for name in [*image.repo_tags, *image.repo_digests]:
        from pallet.image.reference import try_parse

        ref = try_parse(name)
        if ref is not None and ref.domain == dest.domain and ref.path != dest.path and ref.path not in out:
            out.append(ref.path)
    return out


def upload_blob(client: RegistryClient, content: ContentStore, repo: str, digest: str, size: int | None,
                mount_from: list[str], progress: Progress, chunk_size: int | None = None) -> str:
    """Make sure ``repo`` has the blob; returns ``"existing"``, ``"mounted"`` or ``"uploaded"``."""
    push_scope = f"repository:{repo}:pull,push"
    if client.blob_size(repo, digest, scopes=[push_scope]) is not None:
        progress.status(digest, "Layer already exists", size)
        return "existing"
    location = ""
    for source in mount_from:
        resp = client.request("POST", f"/v2/{repo}/blobs/uploads/", scopes=[push_scope, f"repository:{source}:pull"],
                              params={"mount": digest, "from": source})
        resp.close()
        if resp.status_code == 201:
            progress.status(digest, f"Mounted from {source}", size)
            return "mounted"
        if resp.status_code == 202 and resp.headers.get("Location"):
            location = _absolute(resp, resp.headers["Location"])
            break
    if not location:
        resp = client.request("POST", f"/v2/{repo}/blobs/uploads/", scopes=[push_scope])
        if resp.status_code != 202 or not resp.headers.get("Location"):
            raise client.fail(resp, f"starting an upload of blob {digest} to {client.domain}/{repo}")
        resp.close()
        location = _absolute(resp, resp.headers["Location"])
    total = content.size(digest)
    progress.status(digest, "Pushing", total)
    if chunk_size is None:
        resp = client.request(
            "PUT", _with_digest(location, digest), scopes=[push_scope],
            headers={"Content-Type": "application/octet-stream", "Content-Length": str(total)},
            body=_reader(content, digest, 0, total, progress),
        )
    else:
        start = 0
        while start < total:
            n = min(chunk_size, total - start)
            resp = client.request(
                "PATCH", location, scopes=[push_scope],
                headers={"Content-Type": "application/octet-stream", "Content-Length": str(n),
                         "Content-Range": f"{start}-{start + n - 1}"},
                body=_reader(content, digest, start, n, progress),
            )
            if resp.status_code != 202:
                raise client.fail(resp, f"uploading bytes {start}-{start + n - 1} of blob {digest} to {client.domain}/{repo}")
            resp.close()
            location = _absolute(resp, resp.headers.get("Location", location))
            start += n
        resp = client.request("PUT", _with_digest(location, digest), scopes=[push_scope],
                              headers={"Content-Length": "0"}, body=b"")
    if resp.status_code not in (201, 204):
        raise client.fail(resp, f"finishing the upload of blob {digest} to {client.domain}/{repo}")
    resp.close()
    echoed = resp.headers.get("Docker-Content-Digest", "")
    if echoed and echoed != digest:
        raise DigestMismatchError(f"blob {digest} pushed to {client.domain}/{repo}: the registry stored {echoed}")
    progress.status(digest, "Pushed", total)
    return "uploaded"


def _absolute(resp: object, location: str) -> str:
    import httpx

    assert isinstance(resp, httpx.Response)
    return str(resp.request.url.join(location))


def _with_digest(location: str, digest: str) -> str:
    import httpx

    return str(httpx.URL(location).copy_merge_params({"digest": digest}))


def _reader(content: ContentStore, digest: str, start: int, length: int,
            progress: Progress) -> Callable[[], Iterator[bytes]]:
    """A function giving ``length`` bytes of the blob from ``start``, in chunks (called again on a resend)."""

    def chunks() -> Iterator[bytes]:
        with content.open_blob(digest) as f:
            f.seek(start)
            left = length
            while left > 0:
                chunk = f.read(min(READ_CHUNK, left))
                if not chunk:
                    raise RegistryError(f"blob {digest} in the content store is shorter than expected")
                left -= len(chunk)
                progress.advance(digest, len(chunk))
                yield chunk

    return chunks
