"""`pallet version`: the versions of pallet, Python, the kernel and the OCI runtime spec."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import argparse

    from pallet.cli.main import Context


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-f", "--format", help="Format output using a custom template")


def info() -> dict[str, object]:
    import os
    import platform

    from pallet import __version__

    uname = os.uname()
    return {
        "Client": {
            "Version": __version__,
            "ApiVersion": "1.43",
            "PythonVersion": platform.python_version(),
            "Os": "linux",
            "Arch": uname.machine,
        },
        "Server": {
            "Version": __version__,
            "KernelVersion": uname.release,
            "OciVersion": "1.2.0",
            "Os": "linux",
            "Arch": uname.machine,
        },
    }


def run(args: argparse.Namespace, ctx: Context) -> int:
    data = info()
    if args.format:
        from pallet.cli.commands._common import render

        print(render(args.format, data))
        return 0
    client, server = data["Client"], data["Server"]
    assert isinstance(client, dict) and isinstance(server, dict)
    print("Client:")
    for key in ("Version", "ApiVersion", "PythonVersion", "Os", "Arch"):
        print(f" {key + ':':<16}{client[key]}")
    print("\nServer:")
    for key in ("Version", "KernelVersion", "OciVersion", "Os", "Arch"):
        print(f" {key + ':':<16}{server[key]}")
    return 0
