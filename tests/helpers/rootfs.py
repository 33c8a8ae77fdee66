"""Root filesystems for tests, built from the host's busybox-static."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

BUSYBOX = "/bin/busybox"


def busybox_available() -> bool:
    return os.path.exists(BUSYBOX)


def make_busybox_rootfs(dest: Path) -> Path:
    """A minimal root filesystem in ``dest``: busybox with its applet links, /etc/passwd and group."""
    dest.mkdir(parents=True, exist_ok=True)
    for d in ("bin", "sbin", "usr/bin", "usr/sbin", "etc", "proc", "sys", "dev", "tmp", "root", "home", "var", "run"):
        (dest / d).mkdir(parents=True, exist_ok=True)
    os.chmod(dest / "tmp", 0o1777)
    shutil.copy2(BUSYBOX, dest / "bin" / "busybox")
    import subprocess

    applets = subprocess.run([BUSYBOX, "--list"], check=True, capture_output=True, text=True).stdout.split()
    for applet in applets:
        link = dest / "bin" / applet
        if applet != "busybox" and not link.exists():
            link.symlink_to("busybox")
    (dest / "etc" / "passwd").write_text(
        "root:x:0:0:root:/root:/bin/sh\n"
        "daemon:x:1:1:daemon:/usr/sbin:/bin/false\n"
        "nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"
        "app:x:1000:1000:app:/home/app:/bin/sh\n"
    )
    (dest / "etc" / "group").write_text(
        "root:x:0:\ndaemon:x:1:\nwheel:x:10:root,app\nnogroup:x:65534:\napp:x:1000:\n"
    )
    return dest


def copy_rootfs(src: Path, dest: Path) -> Path:
    """A private copy of ``src`` (hard links for the busybox binary, so it is cheap)."""
    shutil.copytree(src, dest, symlinks=True, copy_function=os.link)
    return dest
