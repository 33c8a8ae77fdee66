"""`pallet cp` both ways, docker's destination rules, tar streams, and symlinks that try to lead out."""

from __future__ import annotations

import io
import os
import subprocess
import tarfile
from pathlib import Path

from tests.helpers.cli import Pallet

SETUP = ("mkdir -p /data/sub && echo hello > /data/a && echo deep > /data/sub/b && chown 7:8 /data/a && "
         "ln -s /etc/hostname /data/abs && ln -s a /data/rel && ")


def running(pallet: Pallet, script: str = "", *flags: str) -> str:
    cid = pallet.out("run", "-d", *flags, "busybox", "sh", "-c", SETUP + script + "touch /ready; exec sleep 60")
    for _ in range(200):
        if pallet("exec", cid, "test", "-e", "/ready", check=False).returncode == 0:
            return cid
    raise AssertionError("the container did not get ready")


def test_copy_out_rules(pallet: Pallet, tmp_path: Path) -> None:
    cid = running(pallet)
    out = tmp_path / "out"
    out.mkdir()
    pallet("cp", f"{cid}:/data/a", str(out / "renamed"))  # file to a missing path: that name
    assert (out / "renamed").read_text() == "hello\n"
    pallet("cp", f"{cid}:/data/a", str(out))  # file to a directory: into it
    assert (out / "a").read_text() == "hello\n" and (out / "a").stat().st_uid == 0
    pallet("cp", "-a", f"{cid}:/data/a", str(out / "kept"))
    assert ((out / "kept").stat().st_uid, (out / "kept").stat().st_gid) == (7, 8)
    pallet("cp", f"{cid}:/data", str(out / "tree"))  # directory to a missing path: created with the contents
    assert (out / "tree" / "sub" / "b").read_text() == "deep\n"
    # Symlinks in the tree are copied as symlinks, never followed (the absolute one points at the host's file).
    assert os.readlink(out / "tree" / "abs") == "/etc/hostname" and os.readlink(out / "tree" / "rel") == "a"
    pallet("cp", f"{cid}:/data", str(out / "tree"))  # directory to an existing directory: into it
    assert (out / "tree" / "data" / "a").exists()
    (out / "flat").mkdir()
    pallet("cp", f"{cid}:/data/.", str(out / "flat"))  # SRC/. : the contents
    assert sorted(os.listdir(out / "flat")) == ["a", "abs", "rel", "sub"]
    # -L follows the final symlink: /data/abs is the container's /etc/hostname, not the host's.
    pallet("cp", "-L", f"{cid}:/data/abs", str(out / "hostname"))
    assert (out / "hostname").read_text().strip() == cid[:12]
    proc = pallet("cp", f"{cid}:/data", str(out / "renamed"), check=False)
    assert proc.returncode != 0 and "cannot copy a directory to a file" in proc.stderr
    proc = pallet("cp", f"{cid}:/nope", str(out), check=False)
    assert proc.returncode != 0 and "/nope" in proc.stderr
    proc = pallet("cp", f"{cid}:/data/a", str(out / "missing") + "/", check=False)
    assert proc.returncode != 0 and "does not exist" in proc.stderr
    # A tar stream on stdout.
    data = subprocess.run(pallet.argv("cp", f"{cid}:/data", "-"), capture_output=True, env=pallet.env,
                          check=True).stdout
    with tarfile.open(fileobj=io.BytesIO(data)) as tf:
        names = {m.name: m for m in tf}
        assert set(names) == {"data", "data/a", "data/abs", "data/rel", "data/sub", "data/sub/b"}
        assert names["data/abs"].issym() and names["data/abs"].linkname == "/etc/hostname"
        f = tf.extractfile(names["data/a"])
        assert f is not None and f.read() == b"hello\n"


def test_copy_in_rules_and_volume(pallet: Pallet, tmp_path: Path) -> None:
    vol = tmp_path / "vol"
    vol.mkdir()
    cid = running(pallet, "", "-v", f"{vol}:/vol")
    src = tmp_path / "src"
    (src / "d").mkdir(parents=True)
    (src / "f").write_text("file\n")
    (src / "d" / "g").write_text("gee\n")
    os.chown(src / "f", 5, 6)
    pallet("cp", str(src / "f"), f"{cid}:/data/new")
    pallet("cp", str(src / "f"), f"{cid}:/data/sub")
    pallet("cp", "-a", str(src / "f"), f"{cid}:/data/owned")
    pallet("cp", str(src / "d"), f"{cid}:/copied")
    pallet("cp", str(src) + "/.", f"{cid}:/vol")
    check = ("cat /data/new /data/sub/f /copied/g; stat -c '%u:%g' /data/new /data/owned")
    assert pallet.out("exec", cid, "sh", "-c", check).split() == ["file", "file", "gee", "0:0", "5:6"]
    # Through /proc/<pid>/root the copy sees the container's mounts: it landed in the volume.
    assert (vol / "f").read_text() == "file\n" and (vol / "d" / "g").read_text() == "gee\n"
    # A tar stream on stdin, into a directory.
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        info = tarfile.TarInfo("fromtar/x")
        info.size = 3
        tf.addfile(info, io.BytesIO(b"tar"))
    subprocess.run(pallet.argv("cp", "-", f"{cid}:/data"), input=buf.getvalue(), env=pallet.env, check=True,
                   capture_output=True)
    assert pallet.out("exec", cid, "cat", "/data/fromtar/x") == "tar"


def test_stopped_container_both_ways(pallet: Pallet, tmp_path: Path) -> None:
    cid = pallet.out("create", "busybox", "sh", "-c", SETUP + "true")
    pallet("start", "-a", cid)
    (tmp_path / "in").write_text("while stopped\n")
    pallet("cp", str(tmp_path / "in"), f"{cid}:/data/in")
    pallet("cp", f"{cid}:/data", str(tmp_path / "out"))
    assert (tmp_path / "out" / "in").read_text() == "while stopped\n"
    assert (tmp_path / "out" / "a").read_text() == "hello\n"
    # The snapshot was mounted for the copy only; the container starts afterwards on the same layer
    # (its script now fails: what it made the first time is there, with what cp put in).
    assert not os.path.ismount(pallet.root / "containers" / cid / "rootfs")
    proc = pallet("start", "-a", cid, check=False)
    assert proc.returncode == 1 and "File exists" in proc.stderr


def test_symlinks_cannot_lead_out(pallet: Pallet, tmp_path: Path) -> None:
    host = tmp_path / "host"
    host.mkdir()
    (host / "secret").write_text("host secret\n")
    (host / "victim").write_text("host file\n")
    script = (f"mkdir -p {host} && ln -s {host} /abs-out && ln -s ../../../../../../../..{host} /rel-out && "
              f"ln -s {host}/victim /data/victim && ")
    cid = running(pallet, script)
    out = tmp_path / "out"
    out.mkdir()
    # Reading through links that point at the host's directory: resolved inside the container.
    for link in ("/abs-out/secret", "/rel-out/secret", f"/../../../../..{host}/secret"):
        proc = pallet("cp", f"{cid}:{link}", str(out / "got"), check=False)
        assert proc.returncode != 0, link
        assert not (out / "got").exists()
    # "..": stays at the container's root: this is the container's /etc/hostname.
    pallet("cp", f"{cid}:/../../../../etc/hostname", str(out / "hn"))
    assert (out / "hn").read_text().strip() == cid[:12]
    # Writing through them: the file lands in the container, under the same path, not on the host.
    (tmp_path / "payload").write_text("payload\n")
    pallet("cp", str(tmp_path / "payload"), f"{cid}:/data/../abs-out/")
    assert sorted(os.listdir(host)) == ["secret", "victim"]
    assert pallet.out("exec", cid, "cat", f"{host}/payload") == "payload"
    # A symlink where a copied file goes is replaced, not written through.
    src = tmp_path / "src"
    src.mkdir()
    (src / "victim").write_text("overwrite attempt\n")
    pallet("cp", str(src) + "/.", f"{cid}:/data")
    assert (host / "victim").read_text() == "host file\n"
    assert pallet.out("exec", cid, "sh", "-c", "test -L /data/victim || cat /data/victim") == "overwrite attempt"
    pallet("cp", str(src / "victim"), f"{cid}:/abs-out/victim")
    assert (host / "victim").read_text() == "host file\n"
    # A tar stream with ".." is refused before anything is written.
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        info = tarfile.TarInfo("../../../../../../../../" + str(host).lstrip("/") + "/evil")
        tf.addfile(info, io.BytesIO(b""))
    refused = subprocess.run(pallet.argv("cp", "-", f"{cid}:/data"), input=buf.getvalue(), env=pallet.env,
                             capture_output=True)
    assert refused.returncode != 0 and b".." in refused.stderr
    assert sorted(os.listdir(host)) == ["secret", "victim"]


def test_bad_arguments(pallet: Pallet, tmp_path: Path) -> None:
    proc = pallet("cp", str(tmp_path), str(tmp_path / "x"), check=False)
    assert proc.returncode == 1 and "at least one container" in proc.stderr  # docker: 1 for an error outside run (125: flags, run)
    proc = pallet("cp", "a:/x", "b:/y", check=False)
    assert proc.returncode == 1 and "between containers" in proc.stderr
    proc = pallet("cp", "nosuch:/x", str(tmp_path), check=False)
    assert proc.returncode != 0 and "No such container: nosuch" in proc.stderr
