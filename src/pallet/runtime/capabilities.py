"""process.capabilities of an OCI config: parsed once, applied in the init around the uid switch.

The order in the init (as runc does it):

1. ``drop_bounding(sets)``: drop every capability not in the bounding set (needs CAP_SETPCAP, so
   before the uid switch);
2. ``prepare_uid_switch()``: PR_SET_KEEPCAPS, so that the permitted set survives setuid to non-root;
3. setgroups / setgid / setuid (the caller);
4. ``apply(sets)``: clear keepcaps, capset(effective, permitted, inheritable), then the ambient set.

Inheritable and ambient stay empty unless the config asks for them.  When the config has no
process.capabilities at all, nothing is changed (a root process keeps what it has, a switch to a
non-root uid loses everything, as with runc).
"""

from __future__ import annotations

import sys

from pallet.errors import RuntimeFailure, ValidationError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

SET_NAMES = ("bounding", "effective", "permitted", "inheritable", "ambient")


class CapSets:
    """The five capability sets as bit masks; ``given`` is False when the config had none."""

    __slots__ = ("ambient", "bounding", "effective", "given", "inheritable", "last_cap", "permitted")

    def __init__(
        self, bounding: int = 0, effective: int = 0, permitted: int = 0, inheritable: int = 0, ambient: int = 0,
        *, given: bool = True, last_cap: int = 40,
    ) -> None:
        self.bounding = bounding
        self.effective = effective
        self.permitted = permitted
        self.inheritable = inheritable
        self.ambient = ambient
        self.given = given
        self.last_cap = last_cap

    def names(self, which: str) -> list[str]:
        """The capability names of set ``which`` (bounding, effective, ...)."""
        from pallet._linux.caps import CAP_NAMES

        mask = getattr(self, which)
        return [name for i, name in enumerate(CAP_NAMES) if mask >> i & 1]

    def __eq__(self, other: object) -> bool:
        return isinstance(other, CapSets) and all(
            getattr(self, a) == getattr(other, a) for a in (*SET_NAMES, "given")
        )

    def __repr__(self) -> str:
        if not self.given:
            return "CapSets(unchanged)"
        return "CapSets(" + ", ".join(f"{s}={getattr(self, s):#x}" for s in SET_NAMES) + ")"


def _warn_stderr(message: str) -> None:
    sys.stderr.write(f"pallet: warning: {message}\n")


def cap_number(name: str) -> int | None:
    """The number of capability ``name`` (CAP_CHOWN, chown, Chown...), None if unknown."""
    from pallet._linux.caps import CAP_NUMBERS

    upper = name.upper()
    if not upper.startswith("CAP_"):
        upper = "CAP_" + upper
    return CAP_NUMBERS.get(upper)


def parse_capabilities(
    caps: dict[str, object] | None, path: str = "process.capabilities",
    warn: Callable[[str], None] | None = None, last_cap: int | None = None,
) -> CapSets:
    """Turn an OCI process.capabilities object into masks; unknown names are a ValidationError,
    capabilities the running kernel does not have (above cap_last_cap) are skipped with a warning."""
    from pallet._linux.caps import last_cap as kernel_last_cap

    top = kernel_last_cap() if last_cap is None else last_cap
    if caps is None:
        return CapSets(given=False, last_cap=top)
    if not isinstance(caps, dict):
        raise ValidationError(path, f"must be an object with bounding, effective, ... lists, got {caps!r}")
    unknown_keys = sorted(set(caps) - set(SET_NAMES))
    if unknown_keys:
        raise ValidationError(f"{path}.{unknown_keys[0]}", f"is not a capability set (allowed: {', '.join(SET_NAMES)})")
    warn = warn or _warn_stderr
    masks: dict[str, int] = {}
    skipped: set[str] = set()
    for which in SET_NAMES:
        names = caps.get(which) or []
        if not isinstance(names, list):
            raise ValidationError(f"{path}.{which}", f"must be a list of capability names, got {names!r}")
        mask = 0
        for i, name in enumerate(names):
            number = cap_number(name) if isinstance(name, str) else None
            if number is None:
                raise ValidationError(
                    f"{path}.{which}[{i}]", f"{name!r} is not a capability name (CAP_CHOWN, CAP_NET_ADMIN, ...)"
                )
            if number > top:
                skipped.add(name)
                continue
            mask |= 1 << number
        masks[which] = mask
    if skipped:
        warn(f"{path}: capabilities unknown to the running kernel (cap_last_cap {top}) were skipped: "
             f"{', '.join(sorted(skipped))}")
    return CapSets(
        masks["bounding"], masks["effective"], masks["permitted"], masks["inheritable"], masks["ambient"], last_cap=top
    )


def drop_bounding(sets: CapSets) -> None:
    """Drop from the bounding set every capability the config does not keep (needs CAP_SETPCAP,
    unless it is gone already).  Dropped without a read first: dropping one that is gone succeeds
    where CAP_SETPCAP is held, and only a refused drop is checked (one prctl a capability, not two)."""
    if not sets.given:
        return
    from pallet._linux.prctl import capbset_drop, capbset_read

    for cap in range(sets.last_cap + 1):
        if not sets.bounding >> cap & 1:
            try:
                capbset_drop(cap)
            except OSError as exc:
                if exc.errno != 1 or capbset_read(cap):  # EPERM for one that is gone already: done
                    raise


def prepare_uid_switch() -> None:
    """Keep the permitted set across the coming setuid (PR_SET_KEEPCAPS)."""
    from pallet._linux.prctl import set_keepcaps

    set_keepcaps(True)


def apply(sets: CapSets, warn: Callable[[str], None] | None = None) -> None:
    """After setgroups/setgid/setuid: clear keepcaps, set effective, permitted and inheritable,
    then raise the ambient capabilities (each must be permitted and inheritable)."""
    from pallet._linux.prctl import ambient_clear_all, ambient_raise, set_keepcaps

    set_keepcaps(False)
    if not sets.given:
        return
    from pallet._linux.caps import CAP_NAMES, capset

    try:
        capset(sets.effective, sets.permitted, sets.inheritable)
    except OSError as e:
        from pallet._linux.caps import capget

        _eff, have, _inh = capget()
        missing = [CAP_NAMES[i] for i in range(sets.last_cap + 1) if sets.permitted >> i & 1 and not have >> i & 1]
        extra = [CAP_NAMES[i] for i in range(sets.last_cap + 1) if sets.effective >> i & 1 and not sets.permitted >> i & 1]
        why = (f"not permitted to the runtime: {', '.join(missing)}" if missing
               else f"effective but not permitted: {', '.join(extra)}" if extra else str(e))
        raise RuntimeFailure(f"cannot set process.capabilities ({why})", step="capabilities", errno=e.errno or 0) from None
    ambient_clear_all()
    if not sets.ambient:
        return
    warn = warn or _warn_stderr
    for cap in range(sets.last_cap + 1):
        if sets.ambient >> cap & 1:
            if not (sets.permitted & sets.inheritable) >> cap & 1:
                warn(f"process.capabilities.ambient: {CAP_NAMES[cap]} is not both permitted and inheritable: skipped")
                continue
            ambient_raise(cap)


def current() -> dict[str, int]:
    """This process's five sets as masks, read from /proc/self/status (CapEff, CapPrm, ...)."""
    keys = {"CapInh": "inheritable", "CapPrm": "permitted", "CapEff": "effective", "CapBnd": "bounding", "CapAmb": "ambient"}
    out: dict[str, int] = {}
    with open("/proc/self/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in keys:
                out[keys[key]] = int(value.strip(), 16)
    return out
