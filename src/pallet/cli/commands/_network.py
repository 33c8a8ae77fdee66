"""Helpers of the `pallet network` commands: the store on the context's roots, key=value flags."""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from pallet.cli.main import Context
    from pallet.network import NetworkStore


def store(ctx: Context) -> NetworkStore:
    from pallet.network import NetworkStore

    return ctx.lazy("network", lambda: NetworkStore(ctx.root, ctx.runroot))  # type: ignore[return-value]


def key_values(items: list[str] | None, flag: str) -> dict[str, str]:
    from pallet.errors import ConfigError

    out: dict[str, str] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not key:
            raise ConfigError(f"invalid {flag} {item!r}: expected key=value")
        out[key] = value if sep else ""
    return out

