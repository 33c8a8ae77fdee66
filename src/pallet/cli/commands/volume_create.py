"""`pallet volume create`: a named (or, without a name, anonymous-looking random) local volume."""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse

    from pallet.cli.main import Context


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-d", "--driver", default="local", help='Specify volume driver name (default "local")')
    parser.add_argument("--label", action="append", default=[], help="Set metadata for a volume")
    parser.add_argument("-o", "--opt", action="append", default=[], help="Set driver specific options")
    parser.add_argument("name", nargs="?", metavar="VOLUME")


def run(args: argparse.Namespace, ctx: Context) -> int:
    from pallet.cli.commands._runopts import _kv
    from pallet.engine.volumes import create

    doc = create(ctx.engine().root, args.name, labels=_kv(args.label, "--label"), driver=args.driver,
                 options=_kv(args.opt, "--opt"))
    print(doc["Name"])
    return 0
