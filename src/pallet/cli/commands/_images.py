"""Helpers shared by the image commands: stores, name lookup, sizes, docker's output shapes."""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from pallet.cli.main import Context
    from pallet.image.snapshot.base import Snapshotter
    from pallet.image.store import Image, ImageStore


def images(ctx: Context) -> ImageStore:
    from pallet.image.store import ImageStore

    store = ctx.lazy("images", lambda: ImageStore(ctx.root))
    assert isinstance(store, ImageStore)
    return store


def snapshotter(ctx: Context) -> Snapshotter:
    def make() -> object:
        from pallet.image.snapshot import open_snapshotter

        return open_snapshotter(os.path.join(ctx.root, "snapshots"), os.environ.get("PALLET_STORAGE_DRIVER") or None)

    snap = ctx.lazy("snapshotter", make)
    return snap  # type: ignore[return-value]


def normalise(name: str, source: str = "") -> str:
    from pallet.image.reference import parse

    return str(parse(name, source=source))


def find(store: ImageStore, name: str) -> tuple[Image, str]:
    """The image ``name`` (an id, an id prefix or a reference) and the stored key that found it."""
    from pallet.errors import NotFoundError
    from pallet.image.reference import try_parse

    hexpart = name[7:] if name.startswith("sha256:") else name
    if hexpart and all(c in "0123456789abcdef" for c in hexpart):
        try:
            return store.get(name), name
        except NotFoundError:
            pass
    ref = try_parse(name)
    if ref is not None and store.exists(str(ref)):
        return store.get(str(ref)), str(ref)
    raise NotFoundError(f"No such image: {name}")


def familiar(ref: str) -> str:
    from pallet.image.reference import try_parse

    parsed = try_parse(ref)
    return parsed.familiar() if parsed is not None else ref


def split_repo_tag(ref: str) -> tuple[str, str]:
    """(familiar repository, tag) of a stored name:tag; ("<none>", "<none>") for ""."""
    if not ref:
        return "<none>", "<none>"
    short = familiar(ref)
    repo, _, tag = short.rpartition(":")
    if "/" in tag:  # a port, not a tag
        return short, "<none>"
    return repo, tag


def image_size(ctx: Context, image: Image) -> int:
    """Bytes of the unpacked layers (as recorded at unpack), else the compressed size."""
    from pallet.image.store import chain_ids

    snap = snapshotter(ctx)
    total = 0
    try:
        for key in chain_ids(image.diff_ids):
            total += int(snap.stat(key).labels.get("layer.size", "0"))
    except Exception:
        total = 0
    return total or image.compressed_size


def containers_using(ctx: Context) -> set[str]:
    """Ids of the images some container uses (empty if the engine is not there yet)."""
    try:
        return {r.get("Image", "") for r in ctx.engine().list(all=True)}
    except Exception as e:  # the engine is optional for the image commands
        ctx.debug(f"cannot list containers: {e}")
        return set()


def human_size(n: float) -> str:
    """go-units' HumanSize (decimal units, 3 significant digits): 4.26MB, 1.2GB."""
    units = ["B", "kB", "MB", "GB", "TB", "PB"]
    i = 0
    while n >= 1000 and i < len(units) - 1:
        n /= 1000.0
        i += 1
    return f"{n:.4g}{units[i]}"


def since(created: str) -> str:
    import time

    from pallet.cli.units import human_duration

    t = parse_time(created)
    if t is None:
        return "N/A"
    return human_duration(time.time() - t) + " ago"


def parse_time(created: str) -> float | None:
    import calendar
    import time

    if not created:
        return None
    base = created.rstrip("Z").split(".")[0].split("+")[0]
    try:
        return float(calendar.timegm(time.strptime(base, "%Y-%m-%dT%H:%M:%S")))
    except ValueError:
        return None


def output(fmt: str, rows: list[dict[str, Any]], headers: dict[str, str]) -> None:
    """Print ``rows`` with a docker --format: ``table ...``, ``json`` or a plain template."""
    from pallet.cli.commands._common import render, table

    if fmt == "json":
        import json

        for item in rows:
            print(json.dumps(item, ensure_ascii=False))
        return
    if fmt.startswith("table"):
        body = fmt[len("table"):].strip()
        fields = [_field(cell) for cell in body.split("\t")]
        lines = [[headers.get(f, f.upper()) for f in fields]]
        for item in rows:
            lines.append(render(body, item).split("\t"))
        sys.stdout.write(table(lines))
        return
    for item in rows:
        print(render(fmt, item))


def _field(cell: str) -> str:
    inner = cell.strip()
    if inner.startswith("{{") and inner.endswith("}}"):
        inner = inner[2:-2].strip()
    return inner.lstrip(".").split()[0] if inner.startswith(".") else inner


def confirm(question: str) -> bool:
    sys.stdout.write(f"{question} [y/N] ")
    sys.stdout.flush()
    answer = sys.stdin.readline().strip().lower()
    return answer in ("y", "yes")
