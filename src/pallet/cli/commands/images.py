"""`pallet images` / `pallet image ls`: list images in docker's columns (-a, -q, --digests, --format, --filter)."""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse
    from typing import Any

    from pallet.cli.main import Context
    from pallet.image.store import Image, ImageStore

DEFAULT_TABLE = "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}"
DIGEST_TABLE = "table {{.Repository}}\t{{.Tag}}\t{{.Digest}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}"
HEADERS = {"Repository": "REPOSITORY", "Tag": "TAG", "ID": "IMAGE ID", "CreatedSince": "CREATED",
           "CreatedAt": "CREATED AT", "Size": "SIZE", "Digest": "DIGEST"}
FILTERS = ("dangling", "label", "reference", "before", "since")


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-a", "--all", action="store_true", help="Show all images (default hides intermediate images)")
    parser.add_argument("-q", "--quiet", action="store_true", help="Only show image IDs")
    parser.add_argument("--digests", action="store_true", help="Show digests")
    parser.add_argument("--no-trunc", action="store_true", help="Don't truncate output")
    parser.add_argument("-f", "--filter", action="append", default=[], help="Filter output based on conditions provided")
    parser.add_argument("--format", help="Format output using a custom template")
    parser.add_argument("reference", nargs="?", metavar="REPOSITORY[:TAG]")


def parse_filters(values: list[str]) -> list[tuple[str, str]]:
    from pallet.errors import ConfigError

    out = []
    for v in values:
        key, eq, val = v.partition("=")
        if not eq or key not in FILTERS:
            raise ConfigError(f"invalid filter {v!r} (allowed: {', '.join(k + '=...' for k in FILTERS)})")
        out.append((key, val))
    return out


def _match(store: ImageStore, image: Image, tag: str, filters: list[tuple[str, str]]) -> bool:
    import fnmatch

    from pallet.cli.commands._images import familiar, find

    for key, val in filters:
        if key == "dangling":
            if (val.lower() in ("true", "1")) != (not image.repo_tags):
                return False
        elif key == "reference":
            name = familiar(tag) if tag else ""
            repo = name.rpartition(":")[0]
            if not (fnmatch.fnmatchcase(name, val) or fnmatch.fnmatchcase(repo, val)):
                return False
        elif key == "label":
            labels = (store.config(image).get("config") or {}).get("Labels") or {}
            k, eq, want = val.partition("=")
            if k not in labels or (eq and labels[k] != want):
                return False
        elif key in ("before", "since"):
            other, _ = find(store, val)
            if key == "before" and not (image.created, image.added) < (other.created, other.added):
                return False
            if key == "since" and not (image.created, image.added) > (other.created, other.added):
                return False
    return True


def rows(ctx: Context, store: ImageStore, args: argparse.Namespace) -> list[dict[str, Any]]:
    from pallet.cli.commands._images import human_size, image_size, since, split_repo_tag
    from pallet.image.store import iter_tags

    filters = parse_filters(args.filter)
    want = None
    if args.reference:
        from pallet.cli.commands._images import familiar

        want = args.reference
    out = []
    for image, tag in iter_tags(store.list()):
        if want is not None:
            from pallet.cli.commands._images import familiar

            short = familiar(tag) if tag else ""
            if want not in (short, short.rpartition(":")[0], tag, tag.rpartition(":")[0]):
                continue
        if not _match(store, image, tag, filters):
            continue
        repo, t = split_repo_tag(tag)
        digest = "<none>"
        for d in image.repo_digests:
            if split_repo_tag(d.split("@")[0] + ":x")[0] == repo:
                digest = d.split("@", 1)[1]
        if digest == "<none>" and image.repo_digests:
            digest = image.repo_digests[0].split("@", 1)[1]
        if not tag and image.repo_digests:
            repo = split_repo_tag(image.repo_digests[0].split("@")[0] + ":x")[0]
        out.append({
            "Repository": repo, "Tag": t, "Digest": digest,
            "ID": image.id if args.no_trunc else image.short_id,
            "CreatedSince": since(image.created), "CreatedAt": image.created,
            "Size": human_size(image_size(ctx, image)),
            "Containers": "N/A", "SharedSize": "N/A", "UniqueSize": "N/A", "VirtualSize": "N/A",
        })
    return out


def run(args: argparse.Namespace, ctx: Context) -> int:
    from pallet.cli.commands._images import images, output

    store = images(ctx)
    items = rows(ctx, store, args)
    if args.quiet:
        seen: set[str] = set()
        for item in items:
            if item["ID"] not in seen:
                seen.add(item["ID"])
                print(item["ID"])
        return 0
    fmt = args.format or (DIGEST_TABLE if args.digests else DEFAULT_TABLE)
    output(fmt, items, HEADERS)
    return 0
