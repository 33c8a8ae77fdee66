"""`pallet volume ls`: volumes in docker's layout (-q, --filter, --format)."""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse

    from pallet.cli.main import Context

FILTERS = ("name", "label", "dangling", "driver")


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-f", "--filter", action="append", default=[],
                        help="Provide filter values (e.g. 'dangling=true', 'name=x', 'label=k=v')")
    parser.add_argument("--format", help="Format output using a custom template")
    parser.add_argument("-q", "--quiet", action="store_true", help="Only display volume names")


def run(args: argparse.Namespace, ctx: Context) -> int:
    import sys

    from pallet.cli import format as fmtmod
    from pallet.engine import volumes
    from pallet.errors import ConfigError

    engine = ctx.engine()
    filters: list[tuple[str, str]] = []
    for item in args.filter:
        key, sep, value = item.partition("=")
        if not sep or key not in FILTERS or (key == "dangling" and value not in ("true", "false", "1", "0")):
            raise ConfigError(f"invalid filter {item!r} (allowed: name=<text>, label=<key>[=<value>], "
                              "dangling=true|false, driver=local)")
        filters.append((key, value))
    used = {m.get("Name") for r in engine.store.iter_records() for m in r.get("Mounts") or []
            if m.get("Type") == "volume"}
    rows = []
    for name in volumes.names(engine.root):
        doc = volumes.inspect(engine.root, name)
        ok = True
        for key, value in filters:
            if key == "name":
                ok = ok and value in name
            elif key == "label":
                ok = ok and volumes._label_matches(doc["Labels"], value)
            elif key == "dangling":
                ok = ok and ((name not in used) == (value in ("true", "1")))
            else:
                ok = ok and value == "local"
        if ok:
            labels = doc["Labels"]
            rows.append({"Name": name, "Driver": "local", "Scope": "local", "Mountpoint": doc["Mountpoint"],
                         "Labels": ",".join(f"{k}={v}" for k, v in sorted(labels.items())),
                         "Links": "N/A", "Size": "N/A", "Label": lambda key, labels=labels: labels.get(key, "")})
    fmt = args.format or ""
    if fmt == "json":
        sys.stdout.write(fmtmod.render_json_lines(rows))
    else:
        sys.stdout.write(fmtmod.render_list(fmt, rows, fmtmod.VOLUMES, quiet=args.quiet and not args.format))
    return 0
