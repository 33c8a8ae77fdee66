"""Flags and settings shared by pull, push, login and logout: TLS, the credentials file, registries.json.

Registry settings of a store live in ``<root>/registries.json`` (optional)::

    {"insecure-registries": ["myregistry:5000", "10.0.0.0/8"], "endpoints": {"docker.io": "mirror:5000"}}

``--tls-verify=false`` on the command line makes every registry of the call insecure; the
PALLET_INSECURE_REGISTRIES and PALLET_REGISTRY_ENDPOINTS variables add to the file.
"""

from __future__ import annotations

import json
import os

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse

    from pallet.cli.main import Context
    from pallet.image.registry.client import RegistryOptions


def parse_bool(value: str) -> bool:
    v = value.strip().lower()
    if v in ("1", "true", "yes", "on"):
        return True
    if v in ("0", "false", "no", "off"):
        return False
    import argparse

    raise argparse.ArgumentTypeError(f"invalid boolean value {value!r} (allowed: true, false)")


def add_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--tls-verify", type=parse_bool, default=None, metavar="BOOL",
                        help="Require HTTPS and verify certificates (default: true, except insecure registries)")
    parser.add_argument("--authfile", default=None,
                        help="Credentials file (env PALLET_AUTH_FILE, default ~/.config/pallet/auth.json)")


def settings(ctx: Context) -> dict[str, object]:
    path = os.path.join(ctx.root, "registries.json")
    try:
        with open(path, "rb") as f:
            doc = json.loads(f.read())
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as e:
        from pallet.errors import ConfigError

        raise ConfigError(f"registry settings {path}: {e}") from None
    if not isinstance(doc, dict):
        from pallet.errors import ConfigError

        raise ConfigError(f"registry settings {path}: expected a JSON object")
    return doc


def options(args: argparse.Namespace, ctx: Context) -> RegistryOptions:
    from pallet.errors import ConfigError
    from pallet.image.registry.client import RegistryOptions

    conf = settings(ctx)
    insecure = conf.get("insecure-registries", [])
    endpoints = conf.get("endpoints", {})
    where = os.path.join(ctx.root, "registries.json")
    if not isinstance(insecure, list) or not all(isinstance(x, str) for x in insecure):
        raise ConfigError(f"registry settings {where}: \"insecure-registries\" must be a list of host[:port] or CIDR")
    if not isinstance(endpoints, dict) or not all(isinstance(v, str) for v in endpoints.values()):
        raise ConfigError(f"registry settings {where}: \"endpoints\" must map a domain to a host[:port]")
    return RegistryOptions(tls_verify=args.tls_verify, insecure_registries=insecure,
                           auth_file=args.authfile, endpoints=endpoints)


def image_store(ctx: Context) -> object:
    """The store's ImageStore, shared through the context."""

    def make() -> object:
        from pallet.image.store import ImageStore

        return ImageStore(ctx.root)

    return ctx.lazy("images", make)
