"""`pallet port`: the published ports of a container ("80/tcp -> 0.0.0.0:8080")."""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse

    from pallet.cli.main import Context


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("container", metavar="CONTAINER")
    parser.add_argument("private", metavar="PRIVATE_PORT[/PROTO]", nargs="?", default="")


def lines(ports: dict[str, list[dict[str, str]] | None], private: str = "") -> list[str]:
    """docker port's output lines for a NetworkSettings.Ports mapping, optionally for one port."""
    from pallet.errors import NotFoundError

    want = private if not private or "/" in private else f"{private}/tcp"
    out = []
    for key in sorted(ports, key=lambda k: (int(k.split("/")[0]), k)):
        if want and key != want:
            continue
        for binding in ports[key] or []:
            addr = f"{binding['HostIp']}:{binding['HostPort']}"
            out.append(addr if want else f"{key} -> {addr}")
    if want and not out:
        raise NotFoundError(f"no public port '{want}' published for the container")
    return out


def run(args: argparse.Namespace, ctx: Context) -> int:
    ports = (ctx.engine().get(args.container).get("NetworkSettings") or {}).get("Ports") or {}
    for line in lines(ports, args.private):
        print(line)
    return 0
