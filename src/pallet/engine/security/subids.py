"""/etc/subuid and /etc/subgid, and the --userns-remap mapping built from them.

Each line is ``user:start:count`` (the user by name or by number).  A remapped container's ids
0, 1, 2... map onto the user's subordinate ranges one after the other, so that its root is an
unprivileged uid on the host.
"""

from __future__ import annotations

import itertools

from pallet.errors import ConfigError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence

    Range = tuple[int, int]  # (start, count)

MAX_ID = 1 << 32


def parse_subid_text(text: str, source: str) -> dict[str, list[Range]]:
    """{owner: [(start, count), ...]}; a malformed line is a ConfigError naming ``source`` and the line."""
    out: dict[str, list[Range]] = {}
    for lineno, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        parts = line.split(":")
        if len(parts) != 3 or not parts[0] or not parts[1].isdigit() or not parts[2].isdigit():
            raise ConfigError(f"{source}:{lineno}: {raw!r} is not 'user:start:count'")
        start, count = int(parts[1]), int(parts[2])
        if count == 0 or start + count > MAX_ID:
            raise ConfigError(f"{source}:{lineno}: range {start}:{count} is empty or goes past {MAX_ID - 1}")
        out.setdefault(parts[0], []).append((start, count))
    return out


def read_subid_file(path: str) -> dict[str, list[Range]]:
    try:
        with open(path) as f:
            text = f.read()
    except FileNotFoundError:
        return {}
    except OSError as e:
        raise ConfigError(f"cannot read {path}: {e.strerror}") from None
    return parse_subid_text(text, path)


def ranges_for(owner: str, table: dict[str, list[Range]], owner_id: int | None = None) -> list[Range]:
    """The ranges of ``owner`` (its lines by name and by number), sorted, overlaps refused."""
    ranges = list(table.get(owner, []))
    if owner_id is not None:
        ranges += table.get(str(owner_id), [])
    ranges = sorted(set(ranges))
    for (s1, c1), (s2, c2) in itertools.pairwise(ranges):
        if s2 < s1 + c1:
            raise ConfigError(f"subordinate ranges of {owner!r} overlap: {s1}:{c1} and {s2}:{c2}")
    return ranges


def mappings_from_ranges(ranges: Sequence[Range]) -> list[dict[str, int]]:
    """Container ids from 0 upwards, laid over the host ranges in order."""
    out = []
    next_id = 0
    for start, count in ranges:
        out.append({"containerID": next_id, "hostID": start, "size": count})
        next_id += count
    return out


def check_within(mappings: Sequence[dict[str, int]], ranges: Sequence[Range], source: str) -> None:
    """Every host id of ``mappings`` must lie in ``ranges`` (from ``source``), and the mappings
    must not overlap one another on either side."""
    for i, m in enumerate(mappings):
        lo, hi = m["hostID"], m["hostID"] + m["size"]
        if not any(start <= lo and hi <= start + count for start, count in ranges):
            allowed = ", ".join(f"{s}-{s + c - 1}" for s, c in ranges) or "none"
            raise ConfigError(f"mapping {m['containerID']}:{lo}:{m['size']} uses host ids {lo}-{hi - 1} outside "
                              f"the ranges {source} allows ({allowed})")
        for j, other in enumerate(mappings[:i]):
            for key in ("containerID", "hostID"):
                if m[key] < other[key] + other["size"] and other[key] < m[key] + m["size"]:
                    raise ConfigError(f"mapping {i} ({m}) overlaps mapping {j} ({other}) on {key}")


def _lookup(name: str, kind: str) -> tuple[str, int | None]:
    """(name, id) of a user or group given by name or number; the id is None if unknown."""
    import grp
    import pwd

    try:
        if name.isdigit():
            number = int(name)
            entry_name = pwd.getpwuid(number).pw_name if kind == "user" else grp.getgrgid(number).gr_name
            return entry_name, number
        if kind == "user":
            return name, pwd.getpwnam(name).pw_uid
        return name, grp.getgrnam(name).gr_gid
    except KeyError:
        return name, int(name) if name.isdigit() else None


def remap(spec: str, subuid: str = "/etc/subuid", subgid: str = "/etc/subgid"
          ) -> tuple[list[dict[str, int]], list[dict[str, int]]]:
    """--userns-remap ``user[:group]`` -> (uidMappings, gidMappings) from the subordinate id files."""
    user, _, group = spec.partition(":")
    if not user:
        raise ConfigError(f"invalid --userns-remap {spec!r}: expected user[:group]")
    group = group or user
    uname, uid = _lookup(user, "user")
    gname, gid = _lookup(group, "group")
    result = []
    for owner, number, path in ((uname, uid, subuid), (gname, gid, subgid)):
        ranges = ranges_for(owner, read_subid_file(path), number)
        if not ranges:
            raise ConfigError(f"invalid --userns-remap {spec!r}: {path} has no range for {owner!r} "
                              f"(add a line like '{owner}:100000:65536')")
        for start, count in ranges:
            if start == 0:
                raise ConfigError(f"{path}: range {start}:{count} of {owner!r} includes host id 0 (root)")
        result.append(mappings_from_ranges(ranges))
    return result[0], result[1]
