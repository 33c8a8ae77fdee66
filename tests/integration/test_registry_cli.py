"""`pallet login`, `logout`, `push` and `pull` as a user runs them, against docker-registry on loopback."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from tests.helpers.registry import make_image, registry_available, start_registry

from pallet.image.store import Image, ImageStore

pytestmark = pytest.mark.skipif(not registry_available(), reason="docker-registry is not installed")

PALLET = os.path.join(os.path.dirname(sys.executable), "pallet")


def pallet(*args: str, stdin: str | None = None, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([PALLET, *args], input=stdin, capture_output=True, text=True, timeout=60,
                          env={**os.environ, **(env or {})})


@pytest.mark.parametrize("auth", ["basic", "token"])
def test_login_push_pull_logout(auth: str, tmp_path: Path, busybox_rootfs: Path) -> None:
    authfile = tmp_path / "cfg" / "auth.json"
    with start_registry(tmp_path / "registry", auth=auth, users={"bob": "builder"}) as registry:
        host = registry.host
        wrong = pallet("login", "--authfile", str(authfile), "-u", "bob", "--password-stdin", host, stdin="nope\n")
        assert wrong.returncode == 1  # docker login: 1 (125 is for flags and run)
        assert (wrong.stderr.startswith("Error: ") and host in wrong.stderr) or "token server" in wrong.stderr
        assert not authfile.exists()

        ok = pallet("login", "--authfile", str(authfile), "-u", "bob", "--password-stdin", host, stdin="builder\n")
        assert ok.returncode == 0, ok.stderr
        assert ok.stdout.strip() == "Login Succeeded"
        assert stat.S_IMODE(authfile.stat().st_mode) == 0o600
        assert host in json.loads(authfile.read_text())["auths"]

        root = tmp_path / "root"
        ref = f"{host}/team/tool:1.0"
        image = make_image(ImageStore(root), busybox_rootfs, ref)
        assert isinstance(image, Image)
        pushed = pallet("--root", str(root), "push", "--authfile", str(authfile), ref)
        assert pushed.returncode == 0, pushed.stderr
        assert pushed.stdout.splitlines()[0] == f"The push refers to repository [{host}/team/tool]"
        assert f"1.0: digest: {image.manifest_digest} size:" in pushed.stdout

        other = tmp_path / "other"
        anonymous = pallet("--root", str(other), "pull", "--authfile", str(tmp_path / "none.json"), ref)
        assert anonymous.returncode == 1 and "pallet login" in anonymous.stderr
        pulled = pallet("--root", str(other), "pull", "-q", "--authfile", str(authfile), ref)
        assert pulled.returncode == 0, pulled.stderr
        assert pulled.stdout == ref + "\n"
        got = ImageStore(other).get(ref)
        assert got.id == image.id and got.manifest_digest == image.manifest_digest

        out = pallet("logout", "--authfile", str(authfile), host)
        assert out.stdout.strip() == f"Removing login credentials for {host}"
        assert json.loads(authfile.read_text())["auths"] == {}
        again = pallet("logout", "--authfile", str(authfile), host)
        assert again.returncode == 0 and again.stdout.strip() == f"Not logged in to {host}"


def test_tls_verify_flag_and_settings_file(tmp_path: Path) -> None:
    with start_registry(tmp_path / "registry") as registry:
        root = tmp_path / "root"
        strict = pallet("--root", str(root), "pull", "--tls-verify=true", f"{registry.host}/x/y:z")
        assert strict.returncode == 1 and "cannot connect" in strict.stderr
        bad = pallet("--root", str(root), "pull", "--tls-verify=maybe", f"{registry.host}/x/y:z")
        assert bad.returncode == 125 and "'maybe'" in bad.stderr
        root.mkdir(exist_ok=True)
        (root / "registries.json").write_text(json.dumps({"insecure-registries": "oops"}))
        conf = pallet("--root", str(root), "pull", f"{registry.host}/x/y:z")
        assert conf.returncode == 1 and "insecure-registries" in conf.stderr
        (root / "registries.json").write_text(json.dumps({"endpoints": {"docker.io": registry.host}}))
        mirrored = pallet("--root", str(root), "pull", "busybox")
        # Reached the mirror (on loopback) and asked it for library/busybox.
        assert mirrored.returncode == 1 and "docker.io/library/busybox:latest" in mirrored.stderr
        assert "MANIFEST_UNKNOWN" in mirrored.stderr or "NAME_UNKNOWN" in mirrored.stderr
