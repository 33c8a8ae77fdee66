"""Registry credentials: docker's config.json shape, kept readable by its owner only.

The file holds ``{"auths": {"<registry>": {"auth": base64("user:password")}}}``, the shape docker
and podman write, so a file of theirs can be pointed at with ``--authfile`` / ``PALLET_AUTH_FILE``.
Its default place is ``$XDG_CONFIG_HOME/pallet/auth.json`` (``~/.config/pallet/auth.json``).
Every write goes to a temporary file created with mode 0600, is fsynced and renamed; a file found
with looser modes is tightened to 0600 on the next write.  When pallet's own file has no entry for
a registry, docker's ``~/.docker/config.json`` is read as a fallback (read only).
"""

from __future__ import annotations

import base64
import binascii
import json
import os

from pallet.errors import ConfigError

DOCKER_HUB_KEYS = ("docker.io", "index.docker.io")


def default_path() -> str:
    env = os.environ.get("PALLET_AUTH_FILE")
    if env:
        return env
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return os.path.join(base, "pallet", "auth.json")


def docker_config_path() -> str:
    base = os.environ.get("DOCKER_CONFIG") or os.path.join(os.path.expanduser("~"), ".docker")
    return os.path.join(base, "config.json")


def registry_key(server: str) -> str:
    """The key a registry is stored under: its host[:port], without scheme or path."""
    s = server.strip()
    for scheme in ("https://", "http://"):
        if s.startswith(scheme):
            s = s[len(scheme) :]
    s = s.split("/", 1)[0]
    if s in DOCKER_HUB_KEYS:
        return "docker.io"
    return s


class Credentials:
    """A user name and password (or an identity token) for one registry."""

    __slots__ = ("identity_token", "password", "username")

    def __init__(self, username: str, password: str, identity_token: str = "") -> None:
        self.username = username
        self.password = password
        self.identity_token = identity_token

    def __repr__(self) -> str:  # never print the secret
        return f"Credentials(username={self.username!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Credentials):
            return NotImplemented
        return (self.username, self.password, self.identity_token) == (
            other.username,
            other.password,
            other.identity_token,
        )

    __hash__ = None  # type: ignore[assignment]


class CredentialStore:
    """The credentials file at ``path`` (default: ``default_path()``)."""

    def __init__(self, path: str | None = None, *, docker_fallback: bool | None = None) -> None:
        self.path = path or default_path()
        # Only the default file falls back to docker's: an explicit file is the whole truth.
        self.docker_fallback = (path is None) if docker_fallback is None else docker_fallback

    def _load(self, path: str) -> dict[str, object]:
        try:
            with open(path, "rb") as f:
                raw = f.read()
        except FileNotFoundError:
            return {}
        except OSError as e:
            raise ConfigError(f"cannot read credentials file {path}: {e.strerror}") from e
        if not raw.strip():
            return {}
        try:
            data = json.loads(raw)
        except ValueError as e:
            raise ConfigError(
                f"credentials file {path} is not valid JSON ({e}); expected {{\"auths\": {{...}}}}"
            ) from e
        if not isinstance(data, dict) or not isinstance(data.get("auths", {}), dict):
            raise ConfigError(f"credentials file {path}: expected an object with an \"auths\" object")
        return data

    def get(self, server: str) -> Credentials | None:
        """The credentials stored for ``server`` (a registry host[:port]), or None."""
        key = registry_key(server)
        paths = [self.path]
        if self.docker_fallback:
            paths.append(docker_config_path())
        for path in paths:
            auths = self._load(path).get("auths", {})
            assert isinstance(auths, dict)
            for stored, entry in auths.items():
                if registry_key(stored) == key and isinstance(entry, dict):
                    creds = _decode_entry(entry, path, stored)
                    if creds is not None:
                        return creds
        return None

    def set(self, server: str, creds: Credentials) -> None:
        """Store ``creds`` for ``server``; the file is written 0600, atomically."""
        data = self._load(self.path)
        auths = data.setdefault("auths", {})
        assert isinstance(auths, dict)
        key = registry_key(server)
        for stored in [k for k in auths if registry_key(k) == key]:
            del auths[stored]
        entry: dict[str, str] = {
            "auth": base64.b64encode(f"{creds.username}:{creds.password}".encode()).decode()
        }
        if creds.identity_token:
            entry["identitytoken"] = creds.identity_token
        auths[key] = entry
        self._write(data)

    def remove(self, server: str) -> bool:
        """Forget ``server``; False when nothing was stored for it."""
        data = self._load(self.path)
        auths = data.get("auths", {})
        assert isinstance(auths, dict)
        key = registry_key(server)
        found = [k for k in auths if registry_key(k) == key]
        if not found:
            return False
        for k in found:
            del auths[k]
        self._write(data)
        return True

    def servers(self) -> list[str]:
        auths = self._load(self.path).get("auths", {})
        assert isinstance(auths, dict)
        return sorted(registry_key(k) for k in auths)

    def _write(self, data: dict[str, object]) -> None:
        directory = os.path.dirname(os.path.abspath(self.path))
        os.makedirs(directory, mode=0o700, exist_ok=True)
        from pallet.atomicfile import write_atomic

        write_atomic(self.path, json.dumps(data, indent="\t", sort_keys=True) + "\n", mode=0o600, durable=True)


def _decode_entry(entry: dict[str, object], path: str, key: str) -> Credentials | None:
    token = entry.get("identitytoken")
    identity = token if isinstance(token, str) else ""
    auth = entry.get("auth")
    if isinstance(auth, str) and auth:
        try:
            user, sep, password = base64.b64decode(auth, validate=True).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError) as e:
            raise ConfigError(f"credentials file {path}: auths.{key}.auth is not base64 of user:password") from e
        if not sep:
            raise ConfigError(f"credentials file {path}: auths.{key}.auth has no ':' between user and password")
        return Credentials(user, password, identity)
    name, secret = entry.get("username"), entry.get("password")
    if isinstance(name, str) and isinstance(secret, str):
        return Credentials(name, secret, identity)
    if identity:
        return Credentials("", "", identity)
    return None
