"""Making new images locally: storing a layer tar, writing config and manifest, and ``-c`` changes.

Used by ``import``, ``commit`` and the busybox image.  Layers made here are stored uncompressed
(media type ``application/vnd.oci.image.layer.v1.tar``: the blob digest is the diffID), which costs
no CPU; pushing to a registry may compress them.
"""

from __future__ import annotations

import json
import os
import time

from pallet.errors import ConfigError
from pallet.image.store import MEDIA_OCI_CONFIG, MEDIA_OCI_LAYER, MEDIA_OCI_MANIFEST, canonical_json

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, BinaryIO

    from pallet.image.content import ContentStore
    from pallet.image.store import Image, ImageStore

DEFAULT_PATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def goarch() -> str:
    import platform

    machine = platform.machine()
    return {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "i686": "386", "ppc64le": "ppc64le",
            "s390x": "s390x", "riscv64": "riscv64"}.get(machine, machine)


def now_rfc3339() -> str:
    t = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + f".{int(t % 1 * 1e9):09d}Z"


def store_tar_layer(content: ContentStore, stream: BinaryIO) -> tuple[str, int]:
    """Store a blob whose digest is not known in advance, read from ``stream`` (hashed while it is
    spooled to a temporary file in the ingest directory); (digest, size).  For an uncompressed layer
    tar the digest is its diffID."""
    import hashlib
    import tempfile

    h = hashlib.sha256()
    size = 0
    with tempfile.TemporaryFile(dir=content.ingest_dir) as tmp:
        while chunk := stream.read(1 << 20):
            h.update(chunk)
            size += len(chunk)
            tmp.write(chunk)
        tmp.seek(0)
        digest = "sha256:" + h.hexdigest()
        content.ingest(tmp, digest, size)
    return digest, size


def store_tar_file(content: ContentStore, path: str) -> tuple[str, int]:
    """Store the uncompressed layer tar at ``path``; (digest = diffID, size)."""
    with open(path, "rb") as f:
        return store_tar_layer(content, f)


def make_image(
    images: ImageStore,
    layers: list[tuple[str, str, int, str]],
    config: dict[str, Any],
    refs: list[str],
) -> Image:
    """Write the manifest of ``config`` (its rootfs and layers filled in) and record the image.

    ``layers`` is a list of (blob digest, diffID, size, media type).
    """
    config = dict(config)
    config["rootfs"] = {"type": "layers", "diff_ids": [diff_id for _, diff_id, _, _ in layers]}
    config.setdefault("architecture", goarch())
    config.setdefault("os", "linux")
    config_bytes = canonical_json(config)
    config_digest = images.content.add_bytes(config_bytes)
    manifest = {
        "schemaVersion": 2,
        "mediaType": MEDIA_OCI_MANIFEST,
        "config": {"mediaType": MEDIA_OCI_CONFIG, "digest": config_digest, "size": len(config_bytes)},
        "layers": [{"mediaType": mt, "digest": d, "size": s} for d, _, s, mt in layers],
    }
    return images.add_image(canonical_json(manifest), config_bytes, refs)


def plain_layer(digest: str, size: int) -> tuple[str, str, int, str]:
    return digest, digest, size, MEDIA_OCI_LAYER


# -- `-c` changes (the Dockerfile instructions docker import/commit accept) ------------------------

CHANGE_INSTRUCTIONS = ("CMD", "ENTRYPOINT", "ENV", "EXPOSE", "LABEL", "USER", "VOLUME", "WORKDIR", "ONBUILD",
                       "STOPSIGNAL")


def apply_changes(cfg: dict[str, Any], changes: list[str], where: str = "--change") -> dict[str, Any]:
    """``cfg`` (an image config's ``config`` section) with the Dockerfile-style ``changes`` applied."""
    cfg = json.loads(json.dumps(cfg))
    for change in changes:
        instr, _, rest = change.strip().partition(" ")
        instr = instr.upper()
        rest = rest.strip()
        if instr not in CHANGE_INSTRUCTIONS:
            raise ConfigError(f"{where} {change!r}: {instr!r} is not a supported instruction "
                              f"(allowed: {', '.join(CHANGE_INSTRUCTIONS)})")
        if not rest:
            raise ConfigError(f"{where} {change!r}: {instr} needs an argument")
        if instr in ("CMD", "ENTRYPOINT"):
            cfg["Cmd" if instr == "CMD" else "Entrypoint"] = _exec_form(rest)
            if instr == "ENTRYPOINT":
                cfg["Cmd"] = None
        elif instr == "ENV":
            env = cfg.get("Env") or []
            for k, v in _pairs(rest, change, where):
                env = [e for e in env if e.split("=", 1)[0] != k] + [f"{k}={v}"]
            cfg["Env"] = env
        elif instr == "LABEL":
            labels = cfg.get("Labels") or {}
            labels.update(dict(_pairs(rest, change, where)))
            cfg["Labels"] = labels
        elif instr == "EXPOSE":
            ports = cfg.get("ExposedPorts") or {}
            for p in rest.split():
                port, _, proto = p.partition("/")
                if not port.isdigit() or not 0 < int(port) < 65536 or proto not in ("", "tcp", "udp", "sctp"):
                    raise ConfigError(f"{where} {change!r}: {p!r} is not a port (allowed: N, N/tcp, N/udp, N/sctp)")
                ports[f"{port}/{proto or 'tcp'}"] = {}
            cfg["ExposedPorts"] = ports
        elif instr == "VOLUME":
            vols = cfg.get("Volumes") or {}
            paths = json.loads(rest) if rest.startswith("[") else rest.split()
            for v in paths:
                if not str(v).startswith("/"):
                    raise ConfigError(f"{where} {change!r}: volume {v!r} is not an absolute path")
                vols[v] = {}
            cfg["Volumes"] = vols
        elif instr == "USER":
            cfg["User"] = rest
        elif instr == "WORKDIR":
            cfg["WorkingDir"] = rest if rest.startswith("/") else os.path.join(cfg.get("WorkingDir") or "/", rest)
        elif instr == "STOPSIGNAL":
            cfg["StopSignal"] = rest
        else:
            cfg.setdefault("OnBuild", []).append(rest)
    return cfg


def _exec_form(rest: str) -> list[str]:
    if rest.startswith("["):
        try:
            value = json.loads(rest)
        except ValueError:
            value = None
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return value
    return ["/bin/sh", "-c", rest]


def _pairs(rest: str, change: str, where: str) -> list[tuple[str, str]]:
    import shlex

    try:
        words = shlex.split(rest)
    except ValueError as e:
        raise ConfigError(f"{where} {change!r}: {e}") from None
    if words and "=" not in words[0]:
        # the old form: ENV KEY value with spaces
        return [(words[0], " ".join(words[1:]))]
    out = []
    for w in words:
        k, eq, v = w.partition("=")
        if not eq or not k:
            raise ConfigError(f"{where} {change!r}: {w!r} is not KEY=VALUE")
        out.append((k, v))
    return out
