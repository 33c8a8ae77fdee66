"""Helpers shared by the `pallet` command modules: templates, name lists, flag parsing."""

from __future__ import annotations

import sys


def render(template: str, data: object) -> str:
    """``data`` rendered with a Go template (docker's --format)."""
    import importlib

    gotemplate = importlib.import_module("pallet.cli.gotemplate")
    return str(gotemplate.render(template, data))


def each(names: list[str], action: object) -> int:
    """Apply ``action(name)`` to every name, printing errors as docker does; 1 if any failed."""
    from pallet.cli.main import exit_code_for
    from pallet.errors import PalletError

    failed = False
    for name in names:
        try:
            out = action(name)  # type: ignore[operator]
            if out is not None:
                print(out)
        except PalletError as exc:
            failed = True
            print(exit_code_for(exc)[1], file=sys.stderr)
    return 1 if failed else 0
