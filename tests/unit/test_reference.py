"""Image reference parsing and normalisation, checked against docker's rules."""

from __future__ import annotations

import pytest

from pallet.errors import ConfigError
from pallet.image import reference
from pallet.image.reference import InvalidReferenceError, parse

D = "sha256:" + "ab" * 32


@pytest.mark.parametrize(
    ("given", "full", "familiar"),
    [
        ("busybox", "docker.io/library/busybox:latest", "busybox:latest"),
        ("busybox:1.36", "docker.io/library/busybox:1.36", "busybox:1.36"),
        ("library/busybox", "docker.io/library/busybox:latest", "busybox:latest"),
        ("docker.io/busybox", "docker.io/library/busybox:latest", "busybox:latest"),
        ("index.docker.io/library/busybox", "docker.io/library/busybox:latest", "busybox:latest"),
        ("user/app", "docker.io/user/app:latest", "user/app:latest"),
        ("user/app/sub:v1", "docker.io/user/app/sub:v1", "user/app/sub:v1"),
        ("localhost/app", "localhost/app:latest", "localhost/app:latest"),
        ("localhost:5000/app:x", "localhost:5000/app:x", "localhost:5000/app:x"),
        ("127.0.0.1:5000/a/b", "127.0.0.1:5000/a/b:latest", "127.0.0.1:5000/a/b:latest"),
        ("Registry.Example/app", "Registry.Example/app:latest", "Registry.Example/app:latest"),
        ("Upper/app", "Upper/app:latest", "Upper/app:latest"),
        ("[::1]:5000/app", "[::1]:5000/app:latest", "[::1]:5000/app:latest"),
        ("localhost:5000", "docker.io/library/localhost:5000", "localhost:5000"),
        ("a.b_c__d--e-f", "docker.io/library/a.b_c__d--e-f:latest", "a.b_c__d--e-f:latest"),
        (f"busybox@{D}", f"docker.io/library/busybox@{D}", f"busybox@{D}"),
        (f"busybox:1@{D}", f"docker.io/library/busybox:1@{D}", f"busybox:1@{D}"),
        ("app:V_1.0-rc", "docker.io/library/app:V_1.0-rc", "app:V_1.0-rc"),
    ],
)
def test_normalises_like_docker(given: str, full: str, familiar: str) -> None:
    ref = parse(given)
    assert str(ref) == full
    assert ref.familiar() == familiar
    assert parse(str(ref)) == ref


def test_parts_and_object() -> None:
    ref = parse("localhost:5000/team/app:v2")
    assert (ref.domain, ref.path, ref.tag, ref.digest) == ("localhost:5000", "team/app", "v2", None)
    assert ref.name == "localhost:5000/team/app"
    assert ref.manifest_ref == "v2"
    pinned = parse(f"localhost:5000/team/app:v2@{D}")
    assert pinned.manifest_ref == D
    assert parse("busybox", default_tag=False).tag is None
    assert hash(parse("busybox")) == hash(parse("docker.io/library/busybox:latest"))
    assert parse("busybox").with_digest(D).digest == D
    assert parse("busybox").with_tag("x").tag == "x"


@pytest.mark.parametrize(
    ("given", "fragment"),
    [
        ("", "empty"),
        ("Busybox", "must be lowercase"),
        ("docker.io/Library/busybox", "must be lowercase"),
        ("busybox:", "tag after ':' is empty"),
        ("busybox:-x", "tag '-x'"),
        ("busybox:.x", "tag '.x'"),
        ("busybox:a/b", "port 'a'"),
        ("busybox:" + "a" * 129, "longer than 128"),
        ("busybox@sha256:abc", "64 lower-case hex"),
        ("busybox@sha256:" + "AB" * 32, "64 lower-case hex"),
        ("busybox@md5:" + "ab" * 16, "'md5' is not one of"),
        ("busybox@" + "ab" * 32, "no ':'"),
        (f"busybox@{D}@{D}", "more than one '@'"),
        ("g" * 64, ""),
        ("ab" * 32, "image id"),
        ("/busybox", "empty path component"),
        ("busybox/", "empty path component"),
        ("a//b", "empty path component"),
        ("-busybox", "must start and end"),
        ("busybox-", "must start and end"),
        ("a...b", "'...'"),
        ("a___b", "'___'"),
        ("a._b", "'._'"),
        ("a b", "' '"),
        ("localhost:/app", "empty port"),
        ("localhost:99999/app", "'99999'"),
        ("bad_host.com/app", "may hold only letters"),
        ("-bad.com/app", "may hold only letters"),
        ("[::1/app", "without ']'"),
        ("[zz]:5/app", "not an IPv6"),
        ("@" + D, "repository name is empty"),
        ("x.io/" + "a" * 260, "longer than 255"),
    ],
)
def test_bad_references_name_the_value_and_the_rule(given: str, fragment: str) -> None:
    if given == "g" * 64:
        # 64 characters that are not all hex digits are a valid (if odd) name, not an id.
        assert parse(given).path == "library/" + "g" * 64
        return
    with pytest.raises(InvalidReferenceError) as info:
        parse(given, source="the command line")
    message = str(info.value)
    assert fragment in message
    assert repr(given) in message
    assert "from the command line" in message
    assert "allowed:" in message
    assert isinstance(info.value, ConfigError)
    assert info.value.exit_code == 125


def test_try_parse() -> None:
    assert reference.try_parse("Bad") is None
    assert reference.try_parse("busybox") == parse("busybox")


def test_check_digest() -> None:
    reference.check_digest(D)
    with pytest.raises(InvalidReferenceError, match="sha256"):
        reference.check_digest("sha256:00")
