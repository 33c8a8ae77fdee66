"""The HTTP side of the OCI distribution API: endpoints, TLS, auth retries, errors, manifests, blobs.

One RegistryClient talks to one registry (``host[:port]``).  On first use it pings ``/v2/``: that
tells whether the registry wants authentication (a 401 with challenges) and, for an insecure
registry, whether it speaks https or plain http.

TLS: verification is on.  A registry is *insecure* when ``tls_verify`` is False, when it is listed
in ``insecure_registries`` (``host[:port]`` or a CIDR), or when it is on loopback (docker's rule for
``localhost`` and 127.0.0.0/8).  For an insecure registry, https is tried without verification and
then plain http, as docker does.

Every httpx error is turned here into a RegistryError naming the registry and the request; HTTP
errors carry the registry's own error codes (``MANIFEST_UNKNOWN``, ``DENIED``, ...).
"""

from __future__ import annotations

import hashlib
import json
import os
import threading

from pallet.image.reference import DEFAULT_DOMAIN
from pallet.image.registry.auth import Authorizer
from pallet.image.registry.errors import (
    AuthenticationError,
    DigestMismatchError,
    ImageNotFoundError,
    RegistryError,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping, Sequence

    import httpx

    from pallet.image.credentials import Credentials

MEDIA_OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MEDIA_OCI_INDEX = "application/vnd.oci.image.index.v1+json"
MEDIA_DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
MEDIA_DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
MEDIA_DOCKER_SCHEMA1 = ("application/vnd.docker.distribution.manifest.v1+json",
                        "application/vnd.docker.distribution.manifest.v1+prettyjws")
MANIFEST_TYPES = (MEDIA_OCI_MANIFEST, MEDIA_DOCKER_MANIFEST)
INDEX_TYPES = (MEDIA_OCI_INDEX, MEDIA_DOCKER_LIST)
ACCEPT_MANIFESTS = ", ".join((*MANIFEST_TYPES, *INDEX_TYPES))
MANIFEST_MAX = 4 << 20  # a manifest bigger than this is refused (containerd's limit)

USER_AGENT = "pallet/0.1"
DOCKER_HUB = DEFAULT_DOMAIN  # a reference's domain; never contacted under that name (see RegistryClient)


class RegistryOptions:
    """How to reach registries: TLS, insecure registries, credentials, timeouts, endpoints.

    ``tls_verify``: None (the default: verify, except for insecure registries), True (verify even
    loopback), False (no verification, http allowed).  ``endpoints`` maps a reference's domain to the
    host[:port] actually contacted (a mirror); PALLET_REGISTRY_ENDPOINTS="domain=host,..." adds to it.
    PALLET_INSECURE_REGISTRIES="host:port,10.0.0.0/8" adds insecure registries.
    """

    def __init__(
        self,
        *,
        tls_verify: bool | None = None,
        insecure_registries: Sequence[str] = (),
        credentials: Credentials | None = None,
        auth_file: str | None = None,
        timeout: float = 30.0,
        endpoints: Mapping[str, str] | None = None,
        ca_file: str | None = None,
    ) -> None:
        self.tls_verify = tls_verify
        env_insecure = [s.strip() for s in os.environ.get("PALLET_INSECURE_REGISTRIES", "").split(",") if s.strip()]
        self.insecure_registries = tuple(insecure_registries) + tuple(env_insecure)
        self.credentials = credentials
        self.auth_file = auth_file
        self.timeout = timeout
        self.endpoints = dict(endpoints or {})
        for item in os.environ.get("PALLET_REGISTRY_ENDPOINTS", "").split(","):
            domain, eq, host = item.strip().partition("=")
            if eq and domain and host:
                self.endpoints.setdefault(domain, host)
        self.ca_file = ca_file

    def endpoint(self, domain: str) -> str:
        return self.endpoints.get(domain, domain)

    def is_insecure(self, host: str) -> bool:
        """Whether ``host`` (host[:port]) may be reached without TLS verification."""
        if self.tls_verify is False:
            return True
        if self.tls_verify is True:
            return False
        return is_loopback(host) or _listed(host, self.insecure_registries)

    def credentials_for(self, domain: str) -> Credentials | None:
        if self.credentials is not None:
            return self.credentials
        from pallet.image.credentials import CredentialStore

        return CredentialStore(self.auth_file).get(domain)


def split_host_port(host: str) -> tuple[str, str]:
    if host.startswith("["):
        end = host.find("]")
        return host[1:end], host[end + 2 :] if host[end + 1 : end + 2] == ":" else ""
    name, _, port = host.partition(":")
    return name, port


def is_loopback(host: str) -> bool:
    name, _ = split_host_port(host)
    if name == "localhost":
        return True
    import ipaddress

    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def _listed(host: str, entries: Sequence[str]) -> bool:
    name, _ = split_host_port(host)
    for entry in entries:
        if entry in (host, name):
            return True
        if "/" in entry:
            import ipaddress

            try:
                if ipaddress.ip_address(name) in ipaddress.ip_network(entry, strict=False):
                    return True
            except ValueError:
                continue
    return False


class Manifest:
    """A manifest or index as received: its bytes, media type and digest."""

    __slots__ = ("data", "digest", "media_type")

    def __init__(self, data: bytes, media_type: str, digest: str) -> None:
        self.data = data
        self.media_type = media_type
        self.digest = digest

    def json(self) -> dict[str, object]:
        doc = json.loads(self.data)
        assert isinstance(doc, dict)
        return doc

    @property
    def is_index(self) -> bool:
        return self.media_type in INDEX_TYPES


class RegistryClient:
    """A connection to one registry; thread-safe (layers are fetched from several threads)."""

    def __init__(self, domain: str, options: RegistryOptions | None = None,
                 *, transport: httpx.BaseTransport | None = None) -> None:
        import httpx

        self.options = options or RegistryOptions()
        self.domain = domain
        self.host = self.options.endpoint(domain)
        if self.host == DOCKER_HUB and transport is None:
            from pallet.errors import ConfigError

            # Docker Hub's registry API is not served at the name "docker.io" itself, and pallet
            # names no registry host in its code: the endpoint is the user's setting.
            raise ConfigError(
                f"no endpoint configured for {DOCKER_HUB} (the default registry of names like 'busybox'): "
                f"map it to the registry host to contact, in <root>/registries.json "
                f"{{\"endpoints\": {{\"{DOCKER_HUB}\": \"HOST[:PORT]\"}}}} or with "
                f"PALLET_REGISTRY_ENDPOINTS={DOCKER_HUB}=HOST[:PORT] (a mirror, or Docker Hub's registry API host)")
        self.insecure = self.options.is_insecure(self.host)
        verify: bool | str = False if self.insecure else (self.options.ca_file or True)
        self.http = httpx.Client(
            verify=verify,
            timeout=httpx.Timeout(self.options.timeout, connect=min(self.options.timeout, 10.0)),
            follow_redirects=True,
            headers={"User-Agent": USER_AGENT},
            limits=httpx.Limits(max_connections=16, max_keepalive_connections=8),
            transport=transport,
        )
        self.auth = Authorizer(self.http, domain, self.options.credentials_for(domain))
        self.base = ""
        self._ping_lock = threading.Lock()

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> RegistryClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- connection ----------------------------------------------------------------------------

    def ping(self) -> None:
        """GET /v2/: choose the scheme and learn the auth challenges (once per client)."""
        import httpx

        with self._ping_lock:
            if self.base:
                return
            schemes = ("https", "http") if self.insecure else ("https",)
            last: Exception | None = None
            for scheme in schemes:
                base = f"{scheme}://{self.host}"
                try:
                    resp = self.http.get(base + "/v2/")
                except (httpx.ConnectError, httpx.RemoteProtocolError, httpx.ReadError) as e:
                    last = e
                    continue
                except httpx.HTTPError as e:
                    raise RegistryError(f"registry {self.domain}: GET {base}/v2/: {e}") from None
                if resp.status_code == 401:
                    self.auth.set_challenges(resp.headers.get("WWW-Authenticate", ""))
                elif resp.status_code != 200:
                    raise RegistryError(
                        f"registry {self.domain}: GET {base}/v2/ answered HTTP {resp.status_code}: "
                        "not an OCI distribution (v2) registry"
                    )
                self.base = base
                return
            hint = ""
            if last is not None and "CERTIFICATE" in str(last).upper():
                hint = (f"; the certificate did not verify: use --tls-verify=false or add {self.host} "
                        "to the insecure registries to skip verification")
            raise RegistryError(f"registry {self.domain}: cannot connect to {self.host}: {last}{hint}")

    def check_login(self) -> None:
        """Prove that the credentials work: a token (bearer) or an authorised GET /v2/ (basic)."""
        self.ping()
        if not self.auth.challenged:
            return
        resp = self.request("GET", "/v2/", scopes=[])
        resp.close()
        if resp.status_code != 200:
            raise AuthenticationError(
                f"login to {self.domain} failed: GET /v2/ answered HTTP {resp.status_code} with these credentials"
            )

    def url(self, path: str) -> str:
        self.ping()
        return path if path.startswith(("http://", "https://")) else self.base + path

    def request(
        self,
        method: str,
        path: str,
        *,
        scopes: Sequence[str],
        headers: Mapping[str, str] | None = None,
        params: Mapping[str, str] | None = None,
        body: bytes | Callable[[], Iterable[bytes]] | None = None,
        stream: bool = False,
    ) -> httpx.Response:
        """Send a request with the authorization ``scopes`` need; on a 401, renew the token once.

        ``body`` is bytes or a function returning fresh chunks (so that the request can be resent).
        With ``stream``, the caller reads and closes the response.
        """
        import httpx

        url = self.url(path)
        for attempt in (0, 1):
            all_headers = dict(headers or {})
            # Credentials go only to the registry itself, never to a host its Location points at.
            same_origin = url.startswith(self.base + "/")
            authorization = self.auth.authorization(scopes) if self.auth.challenged and same_origin else None
            if authorization:
                all_headers["Authorization"] = authorization
            content = body() if callable(body) else body
            try:
                req = self.http.build_request(method, url, headers=all_headers, params=params, content=content)
                resp = self.http.send(req, stream=stream)
            except httpx.HTTPError as e:
                raise RegistryError(f"registry {self.domain}: {method} {url}: {e}") from None
            if resp.status_code == 401 and attempt == 0:
                challenge = resp.headers.get("WWW-Authenticate", "")
                resp.close()
                if not challenge:
                    break
                self.auth.set_challenges(challenge)
                self.auth.forget(scopes)
                continue
            return resp
        raise AuthenticationError(
            f"registry {self.domain}: {method} {url}: unauthorized ({', '.join(scopes) or 'no scope'}): "
            f"run 'pallet login {self.domain}' with an account that has access"
        )

    def fail(self, resp: httpx.Response, what: str) -> RegistryError | ImageNotFoundError:
        """The error for an unexpected response (read and closed here), naming ``what`` was asked."""
        try:
            resp.read()
        finally:
            resp.close()
        codes, messages = _registry_errors(resp)
        detail = "; ".join(f"{c}: {m}" if m else c for c, m in zip(codes, messages, strict=True)) or resp.text[:200]
        text = f"{what}: registry {self.domain} answered HTTP {resp.status_code}" + (f" ({detail})" if detail else "")
        if resp.status_code == 404 or {"MANIFEST_UNKNOWN", "NAME_UNKNOWN", "BLOB_UNKNOWN"} & set(codes):
            return ImageNotFoundError(text)
        if resp.status_code in (401, 403) or {"DENIED", "UNAUTHORIZED"} & set(codes):
            return AuthenticationError(text + f": check access, or run 'pallet login {self.domain}'")
        return RegistryError(text)

    # -- manifests -----------------------------------------------------------------------------

    def get_manifest(self, repo: str, ref: str, *, scopes: Sequence[str] | None = None) -> Manifest:
        """The manifest or index ``ref`` (tag or digest) of ``repo``, verified against its digest."""
        what = f"manifest {self.domain}/{repo}:{ref}" if ":" not in ref else f"manifest {self.domain}/{repo}@{ref}"
        resp = self.request("GET", f"/v2/{repo}/manifests/{ref}", scopes=scopes or [f"repository:{repo}:pull"],
                            headers={"Accept": ACCEPT_MANIFESTS}, stream=True)
        try:
            if resp.status_code != 200:
                raise self.fail(resp, what)
            data = _read_limited(resp, MANIFEST_MAX, what)
        finally:
            resp.close()
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        if ref.startswith("sha256:") and ref != digest:
            raise DigestMismatchError(f"{what}: the registry sent content whose digest is {digest}")
        header = resp.headers.get("Docker-Content-Digest", "")
        if header.startswith("sha256:") and header != digest:
            raise DigestMismatchError(
                f"{what}: Docker-Content-Digest says {header} but the content's digest is {digest}"
            )
        try:
            doc = json.loads(data)
        except ValueError:
            raise RegistryError(f"{what}: the registry sent a manifest that is not JSON") from None
        if not isinstance(doc, dict):
            raise RegistryError(f"{what}: the manifest is not a JSON object")
        content_type = resp.headers.get("Content-Type", "").split(";")[0].strip()
        media_type = doc.get("mediaType") or content_type
        if media_type in MEDIA_DOCKER_SCHEMA1 or doc.get("schemaVersion") == 1:
            raise RegistryError(f"{what}: docker schema 1 manifests are not supported (push the image again with a "
                                "current client to get a schema 2 or OCI manifest)")
        if not media_type:
            media_type = MEDIA_OCI_INDEX if "manifests" in doc else MEDIA_OCI_MANIFEST
        if media_type not in MANIFEST_TYPES + INDEX_TYPES:
            raise RegistryError(f"{what}: unsupported manifest media type {media_type!r} "
                                f"(supported: {', '.join(MANIFEST_TYPES + INDEX_TYPES)})")
        return Manifest(data, str(media_type), digest)

    def put_manifest(self, repo: str, ref: str, data: bytes, media_type: str) -> str:
        """Upload a manifest under ``ref`` (tag or digest); returns its digest (checked against ours)."""
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        resp = self.request("PUT", f"/v2/{repo}/manifests/{ref}", scopes=[f"repository:{repo}:pull,push"],
                            headers={"Content-Type": media_type}, body=data)
        if resp.status_code not in (200, 201, 202):
            raise self.fail(resp, f"uploading manifest {self.domain}/{repo}:{ref}")
        echoed = resp.headers.get("Docker-Content-Digest", "")
        if echoed and echoed != digest:
            raise DigestMismatchError(
                f"manifest {self.domain}/{repo}:{ref}: the registry stored {echoed}, we sent {digest}"
            )
        return digest

    # -- blobs ---------------------------------------------------------------------------------

    def blob_size(self, repo: str, digest: str, *, scopes: Sequence[str] | None = None) -> int | None:
        """HEAD the blob: its size if the repository has it, None if not."""
        resp = self.request("HEAD", f"/v2/{repo}/blobs/{digest}", scopes=scopes or [f"repository:{repo}:pull"])
        if resp.status_code == 404:
            return None
        if resp.status_code != 200:
            raise self.fail(resp, f"checking blob {digest} in {self.domain}/{repo}")
        try:
            return int(resp.headers.get("Content-Length", "-1"))
        except ValueError:
            return -1

    def open_blob(self, repo: str, digest: str, offset: int = 0) -> tuple[httpx.Response, int]:
        """Start downloading a blob at ``offset``; returns the open response and the offset it starts at.

        The offset is 0 when the registry ignored the Range request (it sent the whole blob).
        """
        headers = {"Range": f"bytes={offset}-"} if offset else {}
        resp = self.request("GET", f"/v2/{repo}/blobs/{digest}", scopes=[f"repository:{repo}:pull"],
                            headers=headers, stream=True)
        if resp.status_code == 206 and offset:
            start = _range_start(resp.headers.get("Content-Range", ""))
            if start != offset:
                resp.close()
                raise RegistryError(f"blob {digest} in {self.domain}/{repo}: asked for bytes from {offset}, "
                                    f"got Content-Range {resp.headers.get('Content-Range')!r}")
            return resp, offset
        if resp.status_code == 416 and offset:
            resp.close()
            return self.open_blob(repo, digest, 0)
        if resp.status_code != 200:
            raise self.fail(resp, f"downloading blob {digest} from {self.domain}/{repo}")
        return resp, 0


def _read_limited(resp: httpx.Response, limit: int, what: str) -> bytes:
    chunks: list[bytes] = []
    total = 0
    for chunk in resp.iter_bytes():
        total += len(chunk)
        if total > limit:
            raise RegistryError(f"{what}: larger than {limit} bytes: refused")
        chunks.append(chunk)
    return b"".join(chunks)


def _range_start(content_range: str) -> int:
    # "bytes 100-199/200"
    unit, _, spec = content_range.partition(" ")
    start, dash, _ = spec.partition("-")
    if unit != "bytes" or not dash or not start.isdigit():
        return -1
    return int(start)


def _registry_errors(resp: httpx.Response) -> tuple[list[str], list[str]]:
    try:
        doc = json.loads(resp.content)
    except ValueError:
        return [], []
    codes: list[str] = []
    messages: list[str] = []
    errors = doc.get("errors") if isinstance(doc, dict) else None
    for err in errors if isinstance(errors, list) else []:
        if isinstance(err, dict):
            codes.append(str(err.get("code", "")))
            messages.append(str(err.get("message", "")))
    return codes, messages
