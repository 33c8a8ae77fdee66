"""`pallet login`: check credentials against a registry and store them (0600 credentials file)."""

from __future__ import annotations

import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse

    from pallet.cli.main import Context


def configure(parser: argparse.ArgumentParser) -> None:
    from pallet.cli.commands._registry import add_flags

    parser.add_argument("-u", "--username", default=None, help="Username")
    parser.add_argument("-p", "--password", default=None, help="Password")
    parser.add_argument("--password-stdin", action="store_true", help="Take the password from stdin")
    add_flags(parser)
    parser.add_argument("server", nargs="?", default="docker.io", metavar="SERVER")


def run(args: argparse.Namespace, ctx: Context) -> int:
    from pallet.cli.commands._registry import options
    from pallet.errors import ConfigError
    from pallet.image.credentials import Credentials, CredentialStore, registry_key
    from pallet.image.reference import domain_problem
    from pallet.image.registry.client import RegistryClient

    server = registry_key(args.server)
    reason = domain_problem(server)
    if reason:
        raise ConfigError(f"pallet login: server {args.server!r} is not a registry host[:port]: {reason}")
    if args.password_stdin and args.password is not None:
        raise ConfigError("pallet login: --password and --password-stdin cannot be given together")
    username = args.username
    password = args.password
    if args.password_stdin:
        if not username:
            raise ConfigError("pallet login: --password-stdin needs --username")
        password = sys.stdin.read().rstrip("\r\n")
    if password is not None and args.password is not None:
        print("WARNING! Using --password via the CLI is insecure. Use --password-stdin.", file=sys.stderr)
    if not username:
        if not sys.stdin.isatty():
            raise ConfigError("pallet login: no --username given and stdin is not a terminal to ask for one")
        username = input("Username: ").strip()
    if password is None:
        if not sys.stdin.isatty():
            raise ConfigError("pallet login: no password given (use --password-stdin) and stdin is not a terminal")
        import getpass

        password = getpass.getpass("Password: ")
    if not username or not password:
        raise ConfigError("pallet login: the username and the password must not be empty")
    creds = Credentials(username, password)
    opts = options(args, ctx)
    opts.credentials = creds
    with RegistryClient(server, opts) as client:
        client.check_login()
    store = CredentialStore(args.authfile)
    store.set(server, creds)
    print("Login Succeeded")
    return 0
