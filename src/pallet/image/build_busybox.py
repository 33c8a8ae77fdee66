"""The busybox image, made from the host's busybox-static binary without any registry.

One layer: the usual directories, ``/bin/busybox`` and a symlink per applet in ``/bin``, and
``/etc/passwd``, ``/etc/group`` with root, nobody and friends.  Every timestamp is the binary's
mtime, so the same binary always gives the same layer, config and image id.  Config: ``Cmd ["sh"]``
and the usual PATH, as the busybox image of the registries.
"""

from __future__ import annotations

import io
import os

from pallet.errors import NotFoundError
from pallet.image.newimage import DEFAULT_PATH, goarch, make_image, plain_layer, store_tar_layer

TYPE_CHECKING = False
if TYPE_CHECKING:
    import tarfile

    from pallet.image.store import Image, ImageStore

HOST_BUSYBOX = "/bin/busybox"
DEFAULT_REF = "docker.io/library/busybox:latest"
PASSWD = (
    "root:x:0:0:root:/root:/bin/sh\n"
    "daemon:x:1:1:daemon:/usr/sbin:/bin/false\n"
    "bin:x:2:2:bin:/bin:/bin/false\n"
    "sys:x:3:3:sys:/dev:/bin/false\n"
    "sync:x:4:100:sync:/bin:/bin/sync\n"
    "mail:x:8:8:mail:/var/spool/mail:/bin/false\n"
    "www-data:x:33:33:www-data:/var/www:/bin/false\n"
    "operator:x:37:37:Operator:/var:/bin/false\n"
    "nobody:x:65534:65534:nobody:/home:/bin/false\n"
)
GROUP = (
    "root:x:0:\ndaemon:x:1:\nbin:x:2:\nsys:x:3:\nadm:x:4:\ntty:x:5:\ndisk:x:6:\nwheel:x:10:root\n"
    "mail:x:12:\nwww-data:x:33:\nusers:x:100:\nnogroup:x:65533:\nnobody:x:65534:\n"
)
DIRS = {"bin": 0o755, "dev": 0o755, "etc": 0o755, "home": 0o755, "proc": 0o755, "root": 0o700, "sys": 0o755,
        "tmp": 0o1777, "usr": 0o755, "usr/sbin": 0o755, "var": 0o755, "var/spool": 0o755,
        "var/spool/mail": 0o755, "var/www": 0o755}


def applets(busybox: str) -> list[str]:
    """The applet names of ``busybox`` (``busybox --list``)."""
    import subprocess

    out = subprocess.run([busybox, "--list"], check=True, capture_output=True, text=True).stdout
    return sorted({a for a in out.split() if a and "/" not in a and a != "busybox"})


def busybox_layer(busybox: str = HOST_BUSYBOX) -> bytes:
    """The layer tar of the busybox image, built from ``busybox``."""
    import tarfile

    try:
        st = os.stat(busybox)
    except FileNotFoundError:
        raise NotFoundError(f"{busybox} does not exist: install busybox-static to build the busybox image") from None
    mtime = int(st.st_mtime)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:

        def info(name: str, type: bytes, mode: int) -> tarfile.TarInfo:
            ti = tarfile.TarInfo(name)
            ti.type, ti.mode, ti.mtime = type, mode, mtime
            ti.uname = ti.gname = ""
            return ti

        for d, mode in sorted(DIRS.items()):
            tf.addfile(info(d, tarfile.DIRTYPE, mode))
        ti = info("bin/busybox", tarfile.REGTYPE, 0o755)
        ti.size = st.st_size
        with open(busybox, "rb") as f:
            tf.addfile(ti, f)
        for applet in applets(busybox):
            ti = info(f"bin/{applet}", tarfile.SYMTYPE, 0o777)
            ti.linkname = "busybox"
            tf.addfile(ti)
        for name, text in (("etc/group", GROUP), ("etc/passwd", PASSWD)):
            data = text.encode()
            ti = info(name, tarfile.REGTYPE, 0o644)
            ti.size = len(data)
            tf.addfile(ti, io.BytesIO(data))
    return buf.getvalue()


def build_busybox(images: ImageStore, ref: str = DEFAULT_REF, busybox: str = HOST_BUSYBOX) -> Image:
    """Make (or re-tag) the busybox image ``ref`` from the host's ``busybox``."""
    import time

    layer = busybox_layer(busybox)
    digest, size = store_tar_layer(images.content, io.BytesIO(layer))
    created = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(os.stat(busybox).st_mtime))
    config = {
        "architecture": goarch(),
        "os": "linux",
        "created": created,
        "config": {"Env": [DEFAULT_PATH], "Cmd": ["sh"]},
        "history": [{"created": created, "created_by": f"pallet image build-busybox (from {busybox})"}],
    }
    return make_image(images, [plain_layer(digest, size)], config, [ref])
