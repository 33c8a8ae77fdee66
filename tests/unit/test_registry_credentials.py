"""The credentials file: docker's shape, owner-only modes, atomic writes, clear errors."""

from __future__ import annotations

import base64
import json
import os
import stat
from pathlib import Path

import pytest

from pallet.errors import ConfigError
from pallet.image.credentials import Credentials, CredentialStore, registry_key


def test_round_trip_in_docker_shape_with_mode_0600(tmp_path: Path) -> None:
    path = tmp_path / "cfg" / "auth.json"
    store = CredentialStore(str(path))
    old = os.umask(0o022)
    try:
        store.set("127.0.0.1:5000", Credentials("alice", "s3:cret"))
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    data = json.loads(path.read_text())
    assert base64.b64decode(data["auths"]["127.0.0.1:5000"]["auth"]) == b"alice:s3:cret"
    assert store.get("127.0.0.1:5000") == Credentials("alice", "s3:cret")
    assert store.get("http://127.0.0.1:5000/v2/") == Credentials("alice", "s3:cret")
    assert store.get("127.0.0.1:5001") is None
    assert store.servers() == ["127.0.0.1:5000"]
    assert "s3:cret" not in repr(store.get("127.0.0.1:5000"))


def test_loose_file_is_tightened_on_write_and_other_keys_kept(tmp_path: Path) -> None:
    path = tmp_path / "auth.json"
    path.write_text(json.dumps({"auths": {"https://index.docker.io/v1/": {"auth": "dTpw"}}, "other": 1}))
    path.chmod(0o644)
    store = CredentialStore(str(path))
    assert store.get("docker.io") == Credentials("u", "p")
    store.set("localhost:5000", Credentials("bob", "pw"))
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    data = json.loads(path.read_text())
    assert data["other"] == 1
    assert set(data["auths"]) == {"https://index.docker.io/v1/", "localhost:5000"}
    assert not [p for p in tmp_path.iterdir() if ".tmp." in p.name]


def test_remove(tmp_path: Path) -> None:
    store = CredentialStore(str(tmp_path / "auth.json"))
    assert store.remove("localhost:5000") is False
    store.set("localhost:5000", Credentials("bob", "pw"))
    store.set("index.docker.io", Credentials("carol", "pw2"))
    assert store.get("docker.io") == Credentials("carol", "pw2")
    assert store.remove("localhost:5000") is True
    assert store.get("localhost:5000") is None
    assert store.servers() == ["docker.io"]


def test_docker_fallback_only_for_the_default_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    docker_dir = tmp_path / "docker"
    docker_dir.mkdir()
    (docker_dir / "config.json").write_text(json.dumps({"auths": {"r.example:1": {"username": "d", "password": "x"}}}))
    monkeypatch.setenv("DOCKER_CONFIG", str(docker_dir))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    monkeypatch.delenv("PALLET_AUTH_FILE", raising=False)
    assert CredentialStore().get("r.example:1") == Credentials("d", "x")
    assert CredentialStore().path == str(tmp_path / "xdg" / "pallet" / "auth.json")
    assert CredentialStore(str(tmp_path / "mine.json")).get("r.example:1") is None


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        ("{not json", "not valid JSON"),
        ('{"auths": []}', '"auths" object'),
        ('{"auths": {"h:1": {"auth": "!!!"}}}', "auths.h:1.auth is not base64"),
        ('{"auths": {"h:1": {"auth": "' + base64.b64encode(b"nocolon").decode() + '"}}}', "no ':'"),
    ],
)
def test_bad_files_name_the_file_and_the_field(tmp_path: Path, content: str, fragment: str) -> None:
    path = tmp_path / "auth.json"
    path.write_text(content)
    with pytest.raises(ConfigError) as info:
        CredentialStore(str(path)).get("h:1")
    assert fragment in str(info.value)
    assert str(path) in str(info.value)


def test_registry_key() -> None:
    assert registry_key("https://index.docker.io/v1/") == "docker.io"
    assert registry_key("http://localhost:5000") == "localhost:5000"
    assert registry_key("  reg.example/v2 ") == "reg.example"
