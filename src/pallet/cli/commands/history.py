"""`pallet history` / `pallet image history`: the layers of an image with what made them."""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse

    from pallet.cli.main import Context

DEFAULT_TABLE = "table {{.ID}}\t{{.CreatedSince}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}"
HEADERS = {"ID": "IMAGE", "CreatedSince": "CREATED", "CreatedAt": "CREATED AT", "CreatedBy": "CREATED BY",
           "Size": "SIZE", "Comment": "COMMENT"}


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-H", "--human", default=True, type=lambda v: v.lower() not in ("false", "0"),
                        help="Print sizes and dates in human readable format (default true)")
    parser.add_argument("--no-trunc", action="store_true", help="Don't truncate output")
    parser.add_argument("-q", "--quiet", action="store_true", help="Only show image IDs")
    parser.add_argument("--format", help="Format output using a custom template")
    parser.add_argument("image", metavar="IMAGE")


def run(args: argparse.Namespace, ctx: Context) -> int:
    from pallet.cli.commands._images import find, human_size, images, output, since, snapshotter
    from pallet.image.store import chain_ids

    store = images(ctx)
    image, _ = find(store, args.image)
    cfg = store.config(image)
    history = cfg.get("history") or [{"created": cfg.get("created", ""), "created_by": ""}
                                    for _ in image.layers]
    snap = snapshotter(ctx)
    sizes = []
    for key in chain_ids(image.diff_ids):
        try:
            sizes.append(int(snap.stat(key).labels.get("layer.size", "0")))
        except Exception:
            sizes.append(0)
    rows = []
    layer = len(sizes) - 1
    for i, h in enumerate(reversed(history)):
        size = 0
        if not h.get("empty_layer") and layer >= 0:
            size = sizes[layer]
            layer -= 1
        ident = (image.id if args.no_trunc else image.short_id) if i == 0 else "<missing>"
        created_by = h.get("created_by", "")
        if not args.no_trunc and len(created_by) > 45:
            created_by = created_by[:44] + "…"
        rows.append({"ID": ident, "CreatedSince": since(h.get("created", "")) if args.human else h.get("created", ""),
                     "CreatedAt": h.get("created", ""), "CreatedBy": created_by,
                     "Size": human_size(size) if args.human else str(size), "Comment": h.get("comment", "")})
    if args.quiet:
        for r in rows:
            print(r["ID"])
        return 0
    output(args.format or DEFAULT_TABLE, rows, HEADERS)
    return 0
