"""Challenges, tokens, endpoints and platform choice, without a network (httpx.MockTransport)."""

from __future__ import annotations

import base64
import json

import httpx
import pytest

from pallet.errors import ConfigError
from pallet.image.credentials import Credentials
from pallet.image.registry.auth import Challenge, parse_challenges
from pallet.image.registry.client import RegistryClient, RegistryOptions, is_loopback
from pallet.image.registry.errors import AuthenticationError, ImageNotFoundError, RegistryError
from pallet.image.registry.pull import parse_platform, select_platform


def test_parse_bearer_challenge() -> None:
    header = 'Bearer realm="https://auth.example/token",service="reg.example",scope="repository:a/b:pull,push"'
    assert parse_challenges(header) == [
        Challenge("bearer", {"realm": "https://auth.example/token", "service": "reg.example",
                             "scope": "repository:a/b:pull,push"})
    ]


def test_parse_several_challenges_escapes_and_tokens() -> None:
    header = r'Basic realm="a \"quoted\" realm", charset=UTF-8, Bearer realm="https://t/x", error=insufficient_scope'
    assert parse_challenges(header) == [
        Challenge("basic", {"realm": 'a "quoted" realm', "charset": "UTF-8"}),
        Challenge("bearer", {"realm": "https://t/x", "error": "insufficient_scope"}),
    ]
    assert parse_challenges("") == []
    assert parse_challenges("Negotiate") == [Challenge("negotiate")]


class FakeRegistryApp:
    """A bearer-protected registry and its token server, as one MockTransport handler."""

    def __init__(self, users: dict[str, str]) -> None:
        self.users = users
        self.token_requests: list[httpx.Request] = []
        self.issued: dict[str, list[str]] = {}

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.url.host == "auth.test":
            self.token_requests.append(request)
            auth = request.headers.get("Authorization", "")
            if auth:
                user, _, pw = base64.b64decode(auth.split(" ", 1)[1]).decode().partition(":")
                if self.users.get(user) != pw:
                    return httpx.Response(401, json={"details": "bad credentials"})
            token = f"tok{len(self.issued)}"
            self.issued[token] = request.url.params.get_list("scope")
            return httpx.Response(200, json={"token": token, "expires_in": 300})
        challenge = 'Bearer realm="https://auth.test/token",service="reg.test"'
        auth = request.headers.get("Authorization", "")
        if request.url.path == "/v2/":
            return httpx.Response(401, headers={"WWW-Authenticate": challenge})
        scopes = self.issued.get(auth.removeprefix("Bearer "))
        repo = request.url.path.removeprefix("/v2/").rsplit("/manifests/", 1)[0]
        if scopes is None or not any(s.startswith(f"repository:{repo}:") for s in scopes):
            return httpx.Response(401, headers={"WWW-Authenticate": challenge + f',scope="repository:{repo}:pull"'},
                                  json={"errors": [{"code": "UNAUTHORIZED", "message": "authentication required"}]})
        if request.url.path.endswith("/manifests/missing"):
            return httpx.Response(404, json={"errors": [{"code": "MANIFEST_UNKNOWN", "message": "manifest unknown"}]})
        body = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                           "config": {}, "layers": []}).encode()
        return httpx.Response(200, content=body, headers={"Content-Type": "application/vnd.oci.image.manifest.v1+json"})


def _client(app: FakeRegistryApp, creds: Credentials | None) -> RegistryClient:
    options = RegistryOptions(tls_verify=True, credentials=creds)
    return RegistryClient("reg.test", options, transport=httpx.MockTransport(app))


def test_bearer_flow_fetches_one_token_per_scope_and_reuses_it() -> None:
    app = FakeRegistryApp({"alice": "pw"})
    with _client(app, Credentials("alice", "pw")) as client:
        m1 = client.get_manifest("team/app", "v1")
        m2 = client.get_manifest("team/app", "v2")
        assert m1.media_type == "application/vnd.oci.image.manifest.v1+json" and m1.digest == m2.digest
        assert client.base == "https://reg.test"
    assert len(app.token_requests) == 1
    params = app.token_requests[0].url.params
    assert params.get("service") == "reg.test"
    assert params.get_list("scope") == ["repository:team/app:pull"]
    assert params.get("account") == "alice"


def test_bearer_errors_are_clear() -> None:
    app = FakeRegistryApp({"alice": "pw"})
    with _client(app, Credentials("alice", "nope")) as client, pytest.raises(AuthenticationError) as info:
        client.get_manifest("team/app", "v1")
    assert "https://auth.test/token refused user 'alice'" in str(info.value)
    assert "pallet login reg.test" in str(info.value)
    with _client(app, None) as client, pytest.raises(ImageNotFoundError, match=r"reg\.test/team/app:missing.*MANIFEST_UNKNOWN"):
        client.get_manifest("team/app", "missing")


def test_manifest_digest_is_verified() -> None:
    app = FakeRegistryApp({})
    with _client(app, None) as client, pytest.raises(RegistryError, match="digest"):
        client.get_manifest("team/app", "sha256:" + "1" * 64)


def test_unreachable_registry_names_host_and_hint() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed", request=request)

    client = RegistryClient("reg.test:5000", RegistryOptions(), transport=httpx.MockTransport(refuse))
    with client, pytest.raises(RegistryError) as info:
        client.ping()
    assert "cannot connect to reg.test:5000" in str(info.value)
    assert "--tls-verify=false" in str(info.value)


def test_insecure_rules(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PALLET_INSECURE_REGISTRIES", raising=False)
    assert is_loopback("localhost:5000") and is_loopback("127.0.0.2") and is_loopback("[::1]:5000")
    assert not is_loopback("reg.example:5000")
    opts = RegistryOptions(insecure_registries=["reg.example:5000", "10.0.0.0/8"])
    assert opts.is_insecure("reg.example:5000") and opts.is_insecure("10.1.2.3:443")
    assert opts.is_insecure("127.0.0.1:5000")
    assert not opts.is_insecure("reg.example:5001") and not opts.is_insecure("11.0.0.1")
    assert RegistryOptions(tls_verify=False).is_insecure("reg.example")
    assert not RegistryOptions(tls_verify=True).is_insecure("127.0.0.1:5000")
    monkeypatch.setenv("PALLET_INSECURE_REGISTRIES", "other.example")
    monkeypatch.setenv("PALLET_REGISTRY_ENDPOINTS", "docker.io=127.0.0.1:5000")
    env = RegistryOptions()
    assert env.is_insecure("other.example") and env.endpoint("docker.io") == "127.0.0.1:5000"


INDEX = {
    "manifests": [
        {"digest": "sha256:" + "a" * 64, "mediaType": "application/vnd.oci.image.manifest.v1+json",
         "platform": {"os": "linux", "architecture": "arm", "variant": "v6"}},
        {"digest": "sha256:" + "b" * 64, "mediaType": "application/vnd.oci.image.manifest.v1+json",
         "platform": {"os": "linux", "architecture": "arm", "variant": "v7"}},
        {"digest": "sha256:" + "c" * 64, "platform": {"os": "linux", "architecture": "amd64"}},
        {"digest": "sha256:" + "d" * 64, "platform": {"os": "unknown", "architecture": "unknown"}},
    ]
}


def test_select_platform() -> None:
    assert select_platform(INDEX, ("linux", "amd64", ""), "x")["digest"] == "sha256:" + "c" * 64
    assert select_platform(INDEX, ("linux", "arm", "v7"), "x")["digest"] == "sha256:" + "b" * 64
    assert select_platform(INDEX, ("linux", "arm", ""), "x")["digest"] == "sha256:" + "a" * 64
    with pytest.raises(ImageNotFoundError, match=r"linux/riscv64 \(the index has: linux/arm/v6, linux/arm/v7, linux/amd64\)"):
        select_platform(INDEX, ("linux", "riscv64", ""), "x")


def test_parse_platform() -> None:
    assert parse_platform("linux/x86_64") == ("linux", "amd64", "")
    assert parse_platform("linux/arm/v7") == ("linux", "arm", "v7")
    for bad in ("linux", "linux/", "a/b/c/d"):
        with pytest.raises(ConfigError, match=repr(bad)):
            parse_platform(bad)
