"""A real registry for tests: Debian's ``docker-registry`` on 127.0.0.1, with optional auth.

``start_registry(workdir)`` runs the reference registry (distribution 2.8) on a free loopback port
with its storage in ``workdir``, waits until ``/v2/`` answers, and stops it on exit.  Auth:

- ``auth=None``: open registry;
- ``auth="basic"``: htpasswd (bcrypt) with the ``users`` given;
- ``auth="token"``: bearer tokens from a small token server of our own on loopback
  (``TokenServer``), which signs RS256 JWTs with a throw-away key whose self-signed certificate
  the registry trusts (``rootcertbundle``), and grants pull/push to the ``users`` given
  (anonymous callers get nothing).

Nothing here talks to any host but 127.0.0.1.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import http.server
import json
import os
import shutil
import socket
import subprocess
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

REGISTRY_BIN = "docker-registry"
SERVICE = "pallet-test-registry"
ISSUER = "pallet-test-issuer"
# DER prefix of a PKCS#1 v1.5 DigestInfo for SHA-256.
_SHA256_PREFIX = bytes.fromhex("3031300d060960864801650304020105000420")


def registry_available() -> bool:
    return shutil.which(REGISTRY_BIN) is not None


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class SigningKey:
    """A throw-away RSA key and its self-signed certificate, made with the openssl CLI."""

    def __init__(self, workdir: Path) -> None:
        self.key_path = workdir / "token.key"
        self.cert_path = workdir / "token.crt"
        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-sha256", "-days", "2",
             "-subj", "/CN=pallet-test-token", "-keyout", str(self.key_path), "-out", str(self.cert_path)],
            check=True, capture_output=True,
        )
        text = subprocess.run(["openssl", "rsa", "-in", str(self.key_path), "-noout", "-text"],
                              check=True, capture_output=True, text=True).stdout
        self.n = _rsa_field(text, "modulus")
        self.d = _rsa_field(text, "privateExponent")
        pem = self.cert_path.read_text()
        self.cert_der_b64 = "".join(line for line in pem.splitlines() if "-----" not in line)

    def sign_rs256(self, message: bytes) -> bytes:
        k = (self.n.bit_length() + 7) // 8
        t = _SHA256_PREFIX + hashlib.sha256(message).digest()
        em = b"\x00\x01" + b"\xff" * (k - len(t) - 3) + b"\x00" + t
        return pow(int.from_bytes(em, "big"), self.d, self.n).to_bytes(k, "big")

    def jwt(self, claims: dict[str, object]) -> str:
        header = {"typ": "JWT", "alg": "RS256", "x5c": [self.cert_der_b64]}
        signing_input = _b64url(json.dumps(header).encode()) + "." + _b64url(json.dumps(claims).encode())
        return signing_input + "." + _b64url(self.sign_rs256(signing_input.encode()))


def _rsa_field(text: str, name: str) -> int:
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(name + ":"))
    hexdigits = []
    for line in lines[start + 1 :]:
        if not line.startswith(" "):
            break
        hexdigits.append(line.strip().replace(":", ""))
    return int("".join(hexdigits), 16)


class TokenServer:
    """A bearer token server on loopback: checks basic credentials, grants pull/push to known users."""

    def __init__(self, key: SigningKey, users: dict[str, str]) -> None:
        self.key = key
        self.users = users
        self.requests: list[dict[str, object]] = []
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                url = urllib.parse.urlsplit(self.path)
                query = urllib.parse.parse_qs(url.query)
                user = server.check(self.headers.get("Authorization", ""))
                server.requests.append({"user": user, "scope": query.get("scope", []), "service": query.get("service")})
                if user is None:
                    self.send_response(401)
                    self.send_header("Content-Type", "application/json")
                    self.end_headers()
                    self.wfile.write(b'{"details":"bad credentials"}')
                    return
                access = []
                for scope in query.get("scope", []):
                    kind, _, rest = scope.partition(":")
                    name, _, actions = rest.rpartition(":")
                    if kind == "repository" and user:
                        access.append({"type": kind, "name": name,
                                       "actions": [a for a in actions.split(",") if a in ("pull", "push")]})
                now = int(time.time())
                token = server.key.jwt({
                    "iss": ISSUER, "sub": user, "aud": query.get("service", [""])[0], "exp": now + 300,
                    "nbf": now - 10, "iat": now, "jti": os.urandom(8).hex(), "access": access,
                })
                body = json.dumps({"token": token, "expires_in": 300}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.realm = f"http://127.0.0.1:{self.port}/token"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def check(self, authorization: str) -> str | None:
        """The user name ('' for anonymous), or None for wrong credentials."""
        if not authorization:
            return ""
        scheme, _, value = authorization.partition(" ")
        if scheme.lower() != "basic":
            return None
        user, _, password = base64.b64decode(value).decode().partition(":")
        return user if self.users.get(user) == password else None

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(5)


class Registry:
    """A running docker-registry: ``host`` is ``127.0.0.1:<port>``; ``storage`` its directory."""

    def __init__(self, host: str, storage: Path, proc: subprocess.Popen[bytes], log: Path,
                 token_server: TokenServer | None) -> None:
        self.host = host
        self.storage = storage
        self.proc = proc
        self.log = log
        self.token_server = token_server

    @property
    def url(self) -> str:
        return f"http://{self.host}"


def _htpasswd(users: dict[str, str]) -> str:
    import bcrypt

    return "".join(f"{u}:{bcrypt.hashpw(p.encode(), bcrypt.gensalt(rounds=4)).decode()}\n" for u, p in users.items())


@contextlib.contextmanager
def start_registry(workdir: Path, *, auth: str | None = None, users: dict[str, str] | None = None,
                   key: SigningKey | None = None) -> Iterator[Registry]:
    """Run docker-registry on a free loopback port until the block ends (see the module doc)."""
    workdir.mkdir(parents=True, exist_ok=True)
    storage = workdir / "storage"
    storage.mkdir(exist_ok=True)
    users = users or {}
    port = free_port()
    lines = [
        "version: 0.1",
        "log:",
        "  level: error",
        "  accesslog:",
        "    disabled: true",
        "storage:",
        "  filesystem:",
        f"    rootdirectory: {storage}",
        "  delete:",
        "    enabled: true",
        "http:",
        f"  addr: 127.0.0.1:{port}",
        f"  secret: {os.urandom(8).hex()}",
    ]
    token_server: TokenServer | None = None
    if auth == "basic":
        (workdir / "htpasswd").write_text(_htpasswd(users))
        lines += ["auth:", "  htpasswd:", "    realm: pallet-test", f"    path: {workdir / 'htpasswd'}"]
    elif auth == "token":
        key = key or SigningKey(workdir)
        token_server = TokenServer(key, users)
        lines += ["auth:", "  token:", f"    realm: {token_server.realm}", f"    service: {SERVICE}",
                  f"    issuer: {ISSUER}", f"    rootcertbundle: {key.cert_path}"]
    elif auth is not None:
        raise ValueError(f"auth {auth!r}: expected None, 'basic' or 'token'")
    config = workdir / "config.yml"
    config.write_text("\n".join(lines) + "\n")
    log = workdir / "registry.log"
    with open(log, "wb") as logf:
        proc = subprocess.Popen([REGISTRY_BIN, "serve", str(config)], stdout=logf, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL)
    registry = Registry(f"127.0.0.1:{port}", storage, proc, log, token_server)
    try:
        _wait_up(registry)
        yield registry
    finally:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if token_server is not None:
            token_server.close()


def _wait_up(registry: Registry, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        if registry.proc.poll() is not None:
            raise RuntimeError(f"docker-registry exited: {registry.log.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(registry.url + "/v2/", timeout=1):
                return
        except urllib.error.HTTPError:
            return  # 401: up, and asking for auth
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"docker-registry did not answer on {registry.host}: {registry.log.read_text()[-2000:]}")
        time.sleep(0.02)


def make_image(images: object, rootfs: Path, ref: str, *, extra_layer: bytes | None = None) -> object:
    """Record an image made from ``rootfs`` (one gzip layer; a second random layer of ``extra_layer``
    bytes in a file when given) in the ImageStore ``images``; returns the Image."""
    import gzip
    import io
    import tarfile

    from pallet.image.store import ImageStore

    assert isinstance(images, ImageStore)
    layers: list[tuple[bytes, bytes]] = []  # (compressed, uncompressed)
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        tar.add(str(rootfs), arcname=".", recursive=True)
    layers.append((gzip.compress(raw.getvalue(), compresslevel=1, mtime=0), raw.getvalue()))
    if extra_layer is not None:
        raw2 = io.BytesIO()
        with tarfile.open(fileobj=raw2, mode="w", format=tarfile.PAX_FORMAT) as tar:
            info = tarfile.TarInfo("blob.bin")
            info.size = len(extra_layer)
            tar.addfile(info, io.BytesIO(extra_layer))
        layers.append((gzip.compress(raw2.getvalue(), compresslevel=1, mtime=0), raw2.getvalue()))
    diff_ids = ["sha256:" + hashlib.sha256(u).hexdigest() for _, u in layers]
    config = {
        "architecture": "amd64", "os": "linux", "created": "2026-01-01T00:00:00Z",
        "config": {"Cmd": ["sh"], "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "history": [{"created": "2026-01-01T00:00:00Z", "created_by": "pallet tests"} for _ in layers],
    }
    config_bytes = json.dumps(config, sort_keys=True).encode()
    layer_descs = []
    for compressed, _ in layers:
        digest = images.content.add_bytes(compressed)
        layer_descs.append({"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": digest,
                            "size": len(compressed)})
    manifest = {
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": "sha256:" + hashlib.sha256(config_bytes).hexdigest(), "size": len(config_bytes)},
        "layers": layer_descs,
    }
    return images.add_image(json.dumps(manifest).encode(), config_bytes, [ref])


class FakeRegistry:
    """A registry of the test's own on loopback that can misbehave, blob by blob.

    ``modes[digest]``: ``"wrong"`` (other bytes of the same length), ``"truncate"`` (stop after
    ``cut`` bytes of the blob and drop the connection), ``"slow"`` (``delay`` seconds per 32 KiB),
    ``"norange"`` (ignore Range headers).  Every request is recorded in ``requests``.
    """

    def __init__(self) -> None:
        self.manifests: dict[tuple[str, str], tuple[bytes, str]] = {}
        self.blobs: dict[str, bytes] = {}
        self.modes: dict[str, str] = {}
        self.cut = 0
        self.delay = 0.0
        self.requests: list[tuple[str, str, str]] = []  # (method, path, Range header)
        fake = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                pass

            def do_HEAD(self) -> None:
                fake.handle(self, head=True)

            def do_GET(self) -> None:
                fake.handle(self, head=False)

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.host = f"127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def add_image(self, images: object, image: object, repo: str, tag: str) -> None:
        from pallet.image.store import Image, ImageStore

        assert isinstance(images, ImageStore) and isinstance(image, Image)
        data = images.content.read(image.manifest_digest)
        self.manifests[(repo, tag)] = (data, image.manifest_media_type)
        self.manifests[(repo, image.manifest_digest)] = (data, image.manifest_media_type)
        for digest in [image.config_digest, *(layer["digest"] for layer in image.layers)]:
            self.blobs[digest] = images.content.read(digest)

    def handle(self, h: http.server.BaseHTTPRequestHandler, head: bool) -> None:
        path = urllib.parse.urlsplit(h.path).path
        self.requests.append((h.command, path, h.headers.get("Range", "")))
        try:
            if path == "/v2/":
                return self._send(h, 200, b"{}", "application/json", head)
            repo, kind, ref = _split_api_path(path)
            if kind == "manifests" and (repo, ref) in self.manifests:
                data, media_type = self.manifests[(repo, ref)]
                return self._send(h, 200, data, media_type, head,
                                  {"Docker-Content-Digest": "sha256:" + hashlib.sha256(data).hexdigest()})
            if kind == "blobs" and ref in self.blobs:
                return self._blob(h, ref, head)
            code = "MANIFEST_UNKNOWN" if kind == "manifests" else "BLOB_UNKNOWN"
            body = json.dumps({"errors": [{"code": code, "message": f"{kind[:-1]} unknown", "detail": ref}]})
            return self._send(h, 404, body.encode(), "application/json", head)
        except (BrokenPipeError, ConnectionResetError):
            h.close_connection = True

    def _blob(self, h: http.server.BaseHTTPRequestHandler, digest: str, head: bool) -> None:
        data = self.blobs[digest]
        mode = self.modes.get(digest, "ok")
        if mode == "wrong":
            data = bytes([data[0] ^ 0xFF]) + data[1:]
        start = 0
        rng = h.headers.get("Range", "")
        if rng.startswith("bytes=") and mode != "norange":
            start = int(rng[6:].split("-")[0])
        h.send_response(206 if start else 200)
        h.send_header("Content-Type", "application/octet-stream")
        h.send_header("Content-Length", str(len(data) - start))
        h.send_header("Docker-Content-Digest", digest)
        if start:
            h.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        h.end_headers()
        if head:
            return
        end = len(data)
        if mode == "truncate":
            end = max(start, min(self.cut, end))
        pos = start
        while pos < end:
            n = min(32 * 1024, end - pos)
            h.wfile.write(data[pos : pos + n])
            pos += n
            if mode == "slow":
                h.wfile.flush()
                time.sleep(self.delay)
        h.wfile.flush()
        if end < len(data):
            h.close_connection = True
            h.connection.shutdown(socket.SHUT_RDWR)

    @staticmethod
    def _send(h: http.server.BaseHTTPRequestHandler, status: int, body: bytes, content_type: str, head: bool,
              headers: dict[str, str] | None = None) -> None:
        h.send_response(status)
        h.send_header("Content-Type", content_type)
        h.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            h.send_header(k, v)
        h.end_headers()
        if not head:
            h.wfile.write(body)

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(5)


def _split_api_path(path: str) -> tuple[str, str, str]:
    """``/v2/<repo>/<manifests|blobs>/<ref>`` -> (repo, kind, ref)."""
    inner = path[len("/v2/") :]
    for kind in ("manifests", "blobs"):
        repo, sep, ref = inner.rpartition(f"/{kind}/")
        if sep:
            return repo, kind, ref
    return "", "", ""
