"""Image references: parsing and normalisation the way docker does it.

A reference names an image in a registry::

    [domain[:port]/]path[:tag][@algorithm:hex]

``busybox`` is short for ``docker.io/library/busybox:latest``; the first component is a domain
only when it contains a ``.`` or a ``:``, is ``localhost``, or has an upper-case letter (which a
repository path may not).  Path components are lower-case letters and digits joined by ``.``,
``_``, ``__`` or runs of ``-``; a tag is up to 128 of ``[A-Za-z0-9_.-]`` not starting with ``.``
or ``-``; a digest is ``sha256:`` and 64 lower-case hex digits (sha384/sha512 likewise).

The parser is written by hand (no ``re``): it sits on the path of ``pallet run``, and it lets
every error say exactly which part is wrong.
"""

from __future__ import annotations

from pallet.errors import ConfigError

DEFAULT_DOMAIN = "docker.io"
LEGACY_DEFAULT_DOMAIN = "index.docker.io"
OFFICIAL_REPO_PREFIX = "library/"
DEFAULT_TAG = "latest"
NAME_MAX = 255
TAG_MAX = 128

_LOWER_ALNUM = frozenset("abcdefghijklmnopqrstuvwxyz0123456789")
_ALNUM = _LOWER_ALNUM | frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ")
_TAG_CHARS = _ALNUM | frozenset("_.-")
_HEX = frozenset("0123456789abcdef")
DIGEST_HEX_LENGTHS = {"sha256": 64, "sha384": 96, "sha512": 128}

ALLOWED = (
    "allowed: [HOST[:PORT]/]NAME[:TAG][@sha256:DIGEST], NAME in lower case "
    "(letters, digits, and '.', '_', '__' or '-' between them, components separated by '/')"
)


class InvalidReferenceError(ConfigError):
    """A string that is not a valid image reference."""

    def __init__(self, value: str, reason: str, *, source: str = "") -> None:
        self.value = value
        self.reason = reason
        where = f" (from {source})" if source else ""
        super().__init__(f"invalid reference {value!r}{where}: {reason}; {ALLOWED}")


class Reference:
    """A parsed, normalised image reference (``docker.io/library/busybox:latest``)."""

    __slots__ = ("digest", "domain", "path", "tag")

    def __init__(self, domain: str, path: str, tag: str | None = None, digest: str | None = None) -> None:
        self.domain = domain
        self.path = path
        self.tag = tag
        self.digest = digest

    @property
    def name(self) -> str:
        """The repository with its domain: ``docker.io/library/busybox``."""
        return f"{self.domain}/{self.path}"

    @property
    def familiar_name(self) -> str:
        """The short form docker prints: ``busybox``, ``user/app``, ``localhost:5000/app``."""
        if self.domain == DEFAULT_DOMAIN:
            if self.path.startswith(OFFICIAL_REPO_PREFIX) and "/" not in self.path[len(OFFICIAL_REPO_PREFIX) :]:
                return self.path[len(OFFICIAL_REPO_PREFIX) :]
            return self.path
        return self.name

    def familiar(self) -> str:
        """The short form with tag and digest: ``busybox:latest``."""
        return self.familiar_name + self._suffix()

    def _suffix(self) -> str:
        out = ""
        if self.tag is not None:
            out += ":" + self.tag
        if self.digest is not None:
            out += "@" + self.digest
        return out

    @property
    def manifest_ref(self) -> str:
        """What to ask the registry for: the digest when there is one, else the tag."""
        return self.digest or self.tag or DEFAULT_TAG

    def with_tag(self, tag: str) -> Reference:
        check_tag(tag, tag)
        return Reference(self.domain, self.path, tag, None)

    def with_digest(self, digest: str) -> Reference:
        check_digest(digest, digest)
        return Reference(self.domain, self.path, None, digest)

    def __str__(self) -> str:
        return self.name + self._suffix()

    def __repr__(self) -> str:
        return f"Reference({str(self)!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Reference):
            return NotImplemented
        return (self.domain, self.path, self.tag, self.digest) == (other.domain, other.path, other.tag, other.digest)

    def __hash__(self) -> int:
        return hash((self.domain, self.path, self.tag, self.digest))


def parse(value: str, *, default_tag: bool = True, source: str = "") -> Reference:
    """Parse and normalise ``value``; without a tag or digest, the tag is ``latest`` (``default_tag``).

    Raises InvalidReferenceError naming the value, ``source`` (where it came from) and what is allowed.
    """

    def bad(reason: str) -> InvalidReferenceError:
        return InvalidReferenceError(value, reason, source=source)

    if not isinstance(value, str) or not value:
        raise bad("the reference is empty")
    if len(value) == 64 and all(c in _HEX for c in value):
        raise bad("a 64-character hexadecimal string is an image id, not a repository name")
    rest, at, digest = value.partition("@")
    if at:
        if "@" in digest:
            raise bad("more than one '@'")
        reason = digest_problem(digest)
        if reason:
            raise bad(reason)
    tag: str | None = None
    slash = rest.rfind("/")
    colon = rest.rfind(":")
    if colon > slash:
        rest, tag = rest[:colon], rest[colon + 1 :]
        reason = tag_problem(tag)
        if reason:
            raise bad(reason)
    if not rest:
        raise bad("the repository name is empty")
    domain, path = split_domain(rest)
    reason = domain_problem(domain) or path_problem(path)
    if reason:
        raise bad(reason)
    if len(domain) + 1 + len(path) > NAME_MAX:
        raise bad(f"the repository name is longer than {NAME_MAX} characters")
    if domain == LEGACY_DEFAULT_DOMAIN:
        domain = DEFAULT_DOMAIN
    if domain == DEFAULT_DOMAIN and "/" not in path:
        path = OFFICIAL_REPO_PREFIX + path
    if tag is None and not at and default_tag:
        tag = DEFAULT_TAG
    return Reference(domain, path, tag, digest if at else None)


def try_parse(value: str) -> Reference | None:
    """The reference, or None when ``value`` does not parse (for lookups that also accept ids)."""
    try:
        return parse(value)
    except InvalidReferenceError:
        return None


def split_domain(name: str) -> tuple[str, str]:
    """Split ``name`` into (domain, path) with docker's rule for what counts as a domain."""
    first, slash, remainder = name.partition("/")
    if slash and (
        "." in first or ":" in first or first == "localhost" or first.lower() != first
    ):
        return first, remainder
    return DEFAULT_DOMAIN, name


def path_problem(path: str) -> str:
    """Why ``path`` is not a repository path, or '' when it is one."""
    if not path:
        return "the repository path is empty"
    if path.lower() != path:
        return f"repository name {path!r} must be lowercase"
    for component in path.split("/"):
        reason = _component_problem(component)
        if reason:
            return reason
    return ""


def _component_problem(component: str) -> str:
    if not component:
        return "empty path component (a '/' at the start, at the end or doubled)"
    if component[0] not in _LOWER_ALNUM or component[-1] not in _LOWER_ALNUM:
        return f"path component {component!r} must start and end with a lower-case letter or digit"
    i, n = 0, len(component)
    while i < n:
        c = component[i]
        if c in _LOWER_ALNUM:
            i += 1
            continue
        j = i
        while j < n and component[j] not in _LOWER_ALNUM:
            j += 1
        sep = component[i:j]
        if not (sep in (".", "_", "__") or set(sep) == {"-"}):
            return (
                f"path component {component!r} has {sep!r} between letters; "
                "only '.', '_', '__' or a run of '-' may separate them"
            )
        i = j
    return ""


def domain_problem(domain: str) -> str:
    """Why ``domain`` is not ``host[:port]``, or '' when it is one."""
    host, port = domain, ""
    if domain.startswith("["):
        end = domain.find("]")
        if end < 0:
            return f"registry host {domain!r} has '[' without ']'"
        host, after = domain[: end + 1], domain[end + 1 :]
        if after:
            if not after.startswith(":"):
                return f"registry host {domain!r} has {after!r} after the IPv6 address"
            port = after[1:]
            if not port:
                return f"registry {domain!r} has an empty port"
        inner = host[1:-1]
        if not inner or any(c not in _HEX and c not in "ABCDEF:." for c in inner):
            return f"registry host {host!r} is not an IPv6 address"
    else:
        host, colon, port = domain.partition(":")
        if colon and not port:
            return f"registry {domain!r} has an empty port"
        for label in host.split("."):
            if not label:
                return f"registry host {host!r} has an empty label"
            if label[0] not in _ALNUM or label[-1] not in _ALNUM or any(
                c not in _ALNUM and c != "-" for c in label
            ):
                return f"registry host {host!r} may hold only letters, digits, '-' and '.'"
    if port and not (port.isdigit() and port.isascii() and 0 < int(port) < 65536):
        return f"registry port {port!r} is not a number from 1 to 65535"
    return ""


def tag_problem(tag: str) -> str:
    """Why ``tag`` is not a valid tag, or '' when it is one."""
    if not tag:
        return "the tag after ':' is empty"
    if len(tag) > TAG_MAX:
        return f"tag {tag[:20]!r}... is longer than {TAG_MAX} characters"
    if tag[0] in ".-" or any(c not in _TAG_CHARS for c in tag):
        return f"tag {tag!r} may hold only letters, digits, '_', '.' and '-', and not start with '.' or '-'"
    return ""


def check_tag(tag: str, value: str, source: str = "") -> None:
    reason = tag_problem(tag)
    if reason:
        raise InvalidReferenceError(value, reason, source=source)


def digest_problem(digest: str) -> str:
    """Why ``digest`` is not ``algorithm:hex`` of a supported algorithm, or '' when it is one."""
    algorithm, colon, hexpart = digest.partition(":")
    if not colon:
        return f"digest {digest!r} has no ':' between algorithm and hex"
    want = DIGEST_HEX_LENGTHS.get(algorithm)
    if want is None:
        return f"digest algorithm {algorithm!r} is not one of {', '.join(DIGEST_HEX_LENGTHS)}"
    if len(hexpart) != want or any(c not in _HEX for c in hexpart):
        return f"digest {digest!r} must be {algorithm}: and {want} lower-case hex digits"
    return ""


def check_digest(digest: str, value: str = "", source: str = "") -> None:
    """Raise InvalidReferenceError when ``digest`` is not a valid digest."""
    reason = digest_problem(digest)
    if reason:
        raise InvalidReferenceError(value or digest, reason, source=source)
