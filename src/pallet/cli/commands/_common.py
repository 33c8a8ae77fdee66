"""Helpers shared by the `pallet` command modules: templates, name lists, flag parsing."""

from __future__ import annotations

import sys


def render(template: str, data: object) -> str:
    """``data`` rendered with a Go template (docker's --format)."""
    import importlib

    from pallet.errors import ConfigError

    gotemplate = importlib.import_module("pallet.cli.gotemplate")
    try:
        return str(gotemplate.render(template, data))
    except gotemplate.TemplateError as exc:
        raise ConfigError(f"template: {exc}") from None


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


def table(rows: list[list[str]], minwidth: int = 10, padding: int = 3) -> str:
    """Columns aligned as Go's tabwriter.NewWriter(out, 10, 1, 3, ' ', 0) aligns docker's tables."""
    if not rows:
        return ""
    from pallet.cli.format import tabwrite

    return tabwrite("".join("\t".join(r) + "\n" for r in rows), minwidth, padding)
