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


def human_duration(seconds: float) -> str:
    """go-units' HumanDuration: "Less than a second", "5 minutes", "About an hour", "3 days"."""
    s = int(seconds)
    if s < 1:
        return "Less than a second"
    if s == 1:
        return "1 second"
    if s < 60:
        return f"{s} seconds"
    minutes = int(seconds / 60)
    if minutes == 1:
        return "About a minute"
    if minutes < 60:
        return f"{minutes} minutes"
    hours = int(seconds / 3600 + 0.5)
    if hours == 1:
        return "About an hour"
    if hours < 48:
        return f"{hours} hours"
    if hours < 24 * 7 * 2:
        return f"{hours // 24} days"
    if hours < 24 * 30 * 2:
        return f"{hours // 24 // 7} weeks"
    if hours < 24 * 365 * 2:
        return f"{hours // 24 // 30} months"
    return f"{int(seconds / 3600 / 24 / 365)} years"


def table(rows: list[list[str]], minwidth: int = 10, padding: int = 3) -> str:
    """Columns aligned as Go's tabwriter.NewWriter(out, 10, 1, 3, ' ', 0) aligns docker's tables."""
    if not rows:
        return ""
    ncols = max(len(r) for r in rows)
    widths = [0] * ncols
    for r in rows:
        for i, cell in enumerate(r[:-1]):
            widths[i] = max(widths[i], len(cell) + padding, minwidth)
    lines = []
    for r in rows:
        line = "".join(cell.ljust(widths[i]) for i, cell in enumerate(r[:-1])) + (r[-1] if r else "")
        lines.append(line)
    return "\n".join(lines) + "\n"
