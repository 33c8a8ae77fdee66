"""Registry authentication: WWW-Authenticate challenges, bearer tokens, basic auth.

A registry that wants credentials answers ``401`` with one or more challenges::

    WWW-Authenticate: Bearer realm="https://auth.example/token",service="registry",scope="repository:a:pull"

For ``Bearer``, the client asks the token server at ``realm`` for a token that covers the scopes it
needs (``repository:<path>:pull`` or ``pull,push``), sending the user's credentials with basic auth
when it has them (or, with an identity token, an OAuth2 refresh-token grant), and then sends
``Authorization: Bearer <token>``.  Tokens are cached per (realm, service, scopes) until they expire.
For ``Basic``, the credentials go with every request.
"""

from __future__ import annotations

import base64
import json
import threading
import time

from pallet.image.registry.errors import AuthenticationError, RegistryError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence

    import httpx

    from pallet.image.credentials import Credentials

# A token without expires_in lives 60 s (the distribution spec's default); renew a little early.
DEFAULT_TOKEN_LIFETIME = 60
EXPIRY_MARGIN = 5


class Challenge:
    """One challenge of a WWW-Authenticate header: a scheme (lower case) and its parameters."""

    __slots__ = ("params", "scheme")

    def __init__(self, scheme: str, params: dict[str, str] | None = None) -> None:
        self.scheme = scheme
        self.params = params or {}

    def __repr__(self) -> str:
        return f"Challenge({self.scheme!r}, {self.params!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Challenge):
            return NotImplemented
        return (self.scheme, self.params) == (other.scheme, other.params)

    __hash__ = None  # type: ignore[assignment]


def parse_challenges(header: str) -> list[Challenge]:
    """Parse a WWW-Authenticate value (RFC 7235): schemes, each with ``key=value`` parameters.

    Values are tokens or quoted strings (with backslash escapes); parameter names are lower-cased.
    Text that does not fit is skipped rather than guessed at.
    """
    out: list[Challenge] = []
    current: Challenge | None = None
    i, n = 0, len(header)
    while i < n:
        while i < n and header[i] in " \t,":
            i += 1
        start = i
        while i < n and header[i] not in " \t,=":
            i += 1
        token = header[start:i]
        if not token:
            i += 1
            continue
        j = i
        while j < n and header[j] in " \t":
            j += 1
        if j < n and header[j] == "=":
            i = j + 1
            while i < n and header[i] in " \t":
                i += 1
            if i < n and header[i] == '"':
                i += 1
                chars: list[str] = []
                while i < n and header[i] != '"':
                    if header[i] == "\\" and i + 1 < n:
                        i += 1
                    chars.append(header[i])
                    i += 1
                i += 1  # the closing quote
                value = "".join(chars)
            else:
                start = i
                while i < n and header[i] not in " \t,":
                    i += 1
                value = header[start:i]
            if current is not None:
                current.params[token.lower()] = value
        else:
            current = Challenge(token.lower())
            out.append(current)
            i = j
    return out


def repository_scope(path: str, actions: str) -> str:
    """The token scope for a repository: ``repository:<path>:pull`` (or ``pull,push``)."""
    return f"repository:{path}:{actions}"


class Authorizer:
    """Turns the registry's challenges and the user's credentials into Authorization headers."""

    def __init__(self, http: httpx.Client, registry: str, credentials: Credentials | None) -> None:
        self.http = http
        self.registry = registry
        self.credentials = credentials
        self.challenges: list[Challenge] = []
        self._tokens: dict[tuple[str, str, tuple[str, ...]], tuple[str, float]] = {}
        self._lock = threading.Lock()

    @property
    def challenged(self) -> bool:
        return bool(self.challenges)

    def set_challenges(self, header: str) -> None:
        """Remember the challenges of a 401 (the first ones, or new ones asking for more scope)."""
        found = [c for c in parse_challenges(header) if c.scheme in ("bearer", "basic")]
        for c in found:
            # The scope a 401 names is the one of that request; ours are always asked for explicitly.
            c.params.pop("scope", None)
            c.params.pop("error", None)
        if not found:
            raise RegistryError(
                f"registry {self.registry} asked for authentication with an unsupported scheme: "
                f"WWW-Authenticate: {header!r} (supported: Bearer, Basic)"
            )
        self.challenges = found

    def forget(self, scopes: Sequence[str]) -> None:
        """Drop cached tokens for ``scopes`` (after a 401 with a token that seemed valid)."""
        key_scopes = tuple(sorted(scopes))
        with self._lock:
            for key in [k for k in self._tokens if k[2] == key_scopes]:
                del self._tokens[key]

    def authorization(self, scopes: Sequence[str]) -> str | None:
        """The Authorization header value for a request needing ``scopes``, or None."""
        for challenge in self.challenges:
            if challenge.scheme == "bearer":
                return "Bearer " + self.token(challenge, scopes)
        for challenge in self.challenges:
            if challenge.scheme == "basic":
                creds = self.credentials
                if creds is None or not creds.username:
                    raise AuthenticationError(
                        f"registry {self.registry} requires a user name and password "
                        f"(basic auth, realm {challenge.params.get('realm', '')!r}): run 'pallet login {self.registry}'"
                    )
                return "Basic " + _basic(creds.username, creds.password)
        return None

    def token(self, challenge: Challenge, scopes: Sequence[str]) -> str:
        """A bearer token for ``scopes`` from the challenge's realm (cached until it expires)."""
        realm = challenge.params.get("realm", "")
        if not realm.startswith(("https://", "http://")):
            raise AuthenticationError(
                f"registry {self.registry} sent a bearer challenge whose realm {realm!r} is not an http(s) URL"
            )
        service = challenge.params.get("service", "")
        wanted = list(dict.fromkeys(scopes))
        key = (realm, service, tuple(sorted(wanted)))
        now = time.monotonic()
        with self._lock:
            cached = self._tokens.get(key)
            if cached is not None and cached[1] > now:
                return cached[0]
        token, lifetime = self._fetch_token(realm, service, wanted)
        with self._lock:
            self._tokens[key] = (token, now + max(lifetime - EXPIRY_MARGIN, 1))
        return token

    def _fetch_token(self, realm: str, service: str, scopes: list[str]) -> tuple[str, int]:
        import httpx

        creds = self.credentials
        params: list[tuple[str, str | int | float | bool | None]] = []
        if service:
            params.append(("service", service))
        params.extend(("scope", s) for s in scopes)
        try:
            if creds is not None and creds.identity_token:
                form = {"grant_type": "refresh_token", "refresh_token": creds.identity_token,
                        "client_id": "pallet", "service": service, "scope": " ".join(scopes)}
                resp = self.http.post(realm, data=form)
            else:
                headers = {}
                if creds is not None and creds.username:
                    params.append(("account", creds.username))
                    headers["Authorization"] = "Basic " + _basic(creds.username, creds.password)
                resp = self.http.get(realm, params=params, headers=headers)
        except httpx.HTTPError as e:
            raise RegistryError(f"token server {realm} of registry {self.registry}: {e}") from None
        who = f"user {creds.username!r}" if creds is not None and creds.username else "anonymous access"
        if resp.status_code in (401, 403):
            raise AuthenticationError(
                f"token server {realm} refused {who} for {' '.join(scopes) or 'the registry'} "
                f"(HTTP {resp.status_code}{_detail(resp)}): check the credentials, or run 'pallet login {self.registry}'"
            )
        if resp.status_code != 200:
            raise RegistryError(f"token server {realm} answered HTTP {resp.status_code}{_detail(resp)}")
        try:
            doc = json.loads(resp.content)
        except ValueError:
            raise RegistryError(f"token server {realm} answered with something that is not JSON") from None
        token = doc.get("token") or doc.get("access_token") if isinstance(doc, dict) else None
        if not isinstance(token, str) or not token:
            raise RegistryError(f"token server {realm} answered without a token")
        lifetime = doc.get("expires_in", DEFAULT_TOKEN_LIFETIME)
        if not isinstance(lifetime, int) or lifetime <= 0:
            lifetime = DEFAULT_TOKEN_LIFETIME
        return token, lifetime


def _basic(username: str, password: str) -> str:
    return base64.b64encode(f"{username}:{password}".encode()).decode()


def _detail(resp: httpx.Response) -> str:
    text = resp.text.strip().replace("\n", " ")
    return f": {text[:200]}" if text else ""
