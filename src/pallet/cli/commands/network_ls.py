"""`pallet network ls`: the networks, as docker lists them."""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse

    from pallet.cli.main import Context


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-q", "--quiet", action="store_true", help="Only display network IDs")
    parser.add_argument("--no-trunc", action="store_true", help="Do not truncate the output")
    parser.add_argument("--format", default="", help="Format output using a Go template")
    parser.add_argument("-f", "--filter", action="append", help="Provide filter values (name=, driver=, id=)")


def run(args: argparse.Namespace, ctx: Context) -> int:
    from pallet.cli.commands._common import render, table
    from pallet.cli.commands._network import key_values, store

    s = store(ctx)
    s.inspect(s.config.default_network)  # the default network exists from the first use on, as docker0
    nets = sorted(s.networks(), key=lambda n: n["Name"])
    for key, value in key_values(args.filter, "--filter").items():
        field = {"name": "Name", "driver": "Driver", "id": "Id"}.get(key)
        if field is None:
            from pallet.errors import ConfigError

            raise ConfigError(f"invalid --filter {key!r}: use name=, driver= or id=")
        nets = [n for n in nets if value in n[field]]
    def short(net_id: str) -> str:
        return net_id if args.no_trunc else net_id[:12]

    if args.quiet:
        for n in nets:
            print(short(n["Id"]))
        return 0
    if args.format:
        for n in nets:
            print(render(args.format, {**n, "ID": short(n["Id"])}))
        return 0
    rows = [["NETWORK ID", "NAME", "DRIVER", "SCOPE"]]
    rows += [[short(n["Id"]), n["Name"], n["Driver"], n["Scope"]] for n in nets]
    print(table(rows), end="")
    return 0
