"""`pallet network inspect`: docker's JSON document of each network."""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse

    from pallet.cli.main import Context


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-f", "--format", default="", help="Format output using a Go template")
    parser.add_argument("networks", metavar="NETWORK", nargs="+")


def run(args: argparse.Namespace, ctx: Context) -> int:
    import json
    import sys

    from pallet.cli.commands._common import render
    from pallet.cli.commands._network import store
    from pallet.errors import PalletError

    found, failed = [], False
    for ref in args.networks:
        try:
            found.append(store(ctx).inspect(ref))
        except PalletError as exc:
            failed = True
            print(f"Error: {exc}", file=sys.stderr)
    if args.format:
        for net in found:
            print(render(args.format, net))
    else:
        print(json.dumps(found, indent=4))
    return 1 if failed else 0
