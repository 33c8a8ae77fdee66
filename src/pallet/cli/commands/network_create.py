"""`pallet network create`: a user-defined bridge network."""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse

    from pallet.cli.main import Context


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-d", "--driver", default="bridge", help="Driver to manage the Network (bridge)")
    parser.add_argument("--subnet", default="", help="Subnet in CIDR format")
    parser.add_argument("--gateway", default="", help="IPv4 Gateway for the master subnet")
    parser.add_argument("--ip-range", default="", help="Allocate container ip from a sub-range")
    parser.add_argument("--internal", action="store_true", help="Restrict external access to the network")
    parser.add_argument("--attachable", action="store_true", help="Enable manual container attachment")
    parser.add_argument("--label", action="append", help="Set metadata on a network")
    parser.add_argument("-o", "--opt", action="append", help="Set driver specific options")
    parser.add_argument("name", metavar="NETWORK")


def run(args: argparse.Namespace, ctx: Context) -> int:
    from pallet.cli.commands._network import key_values, store

    net = store(ctx).create(args.name, driver=args.driver, subnet=args.subnet, gateway=args.gateway,
                            ip_range=args.ip_range, internal=args.internal, attachable=args.attachable,
                            labels=key_values(args.label, "--label"), options=key_values(args.opt, "--opt"))
    print(net["Id"])
    return 0
