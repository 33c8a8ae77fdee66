"""`pallet logout`: forget the credentials stored for a registry."""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse

    from pallet.cli.main import Context


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--authfile", default=None,
                        help="Credentials file (env PALLET_AUTH_FILE, default ~/.config/pallet/auth.json)")
    parser.add_argument("server", nargs="?", default="docker.io", metavar="SERVER")


def run(args: argparse.Namespace, ctx: Context) -> int:
    from pallet.image.credentials import CredentialStore, registry_key

    server = registry_key(args.server)
    if CredentialStore(args.authfile).remove(server):
        print(f"Removing login credentials for {server}")
    else:
        print(f"Not logged in to {server}")
    return 0
